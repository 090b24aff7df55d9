#pragma once

// Which CAs may issue device certificates when client_auth.issuers is "listed": those of
// trusted_ca_file, and not every CA under a root listed there. AD's NTAuth store is the same rule
// for Windows logons: a Wi-Fi, VPN or partner CA under the company root does not vouch for users.

#include <openssl/x509.h>

#include <string>
#include <vector>

#include "easgate/identity/trust_store.hpp"

namespace easgate::identity {

// Whether a and b are one CA: the same name and key (certificates of a CA renewed with its key).
bool same_ca(X509* a, X509* b);

class ListedIssuers {
public:
    explicit ListedIssuers(const std::vector<X509Ptr>& cas);

    // The CA that signed a chain's leaf (chain[1]) when the chain reaches a listed CA but that one
    // is not listed, else null (a chain of the leaf alone, or one that reaches no listed CA, is
    // another refusal's business). A CA is matched by name and key: one renewed with the same key
    // is itself, whichever of its certificates the chain holds.
    X509* unlisted_issuer(STACK_OF(X509) * chain) const;

    // The refusal of a device whose leaf issuer is not listed, naming that CA; when a listed CA has its
    // name, as a CA renewed with a new key whose new certificate is not listed.
    std::string refusal(X509* issuer) const;

private:
    bool lists(X509* ca) const;

    std::vector<X509Ptr> cas_;
};

}  // namespace easgate::identity
