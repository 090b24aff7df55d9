#pragma once

// Why a device certificate was refused, in a word for /metrics: an alert on a rise in `revoked`
// or `crl_unavailable` sees a CA's stale CRL refuse every device before the phones' users call.

#include <array>
#include <string_view>

namespace easgate::listener {

inline constexpr std::array<std::string_view, 9> certificate_refusal_causes{
    "no_certificate",      // none sent where client_auth.mode is required
    "revoked",             // on its CA's CRL (or an issuing CA on the root's)
    "crl_unavailable",     // a CRL (or delta CRL) missing, expired, not yet valid or badly signed
    "expired",             // a certificate of the chain outside its validity
    "unknown_ca",          // no chain to trusted_ca_file
    "unlisted_issuer",     // issued by a CA under a listed one, not listed itself (issuers: listed)
    "no_client_auth_eku",  // without the Client Authentication EKU
    "no_identity",         // no usable UPN or email
    "other",
};

// The cause of a refusal with this X509_V_ERR_… verification error.
std::string_view certificate_refusal_cause(int verify_error);

}  // namespace easgate::listener
