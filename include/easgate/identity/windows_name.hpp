#pragma once

// A distinguished name as Windows writes it in altSecurityIdentities' X509:<I>issuer<SR>serial:
// the most significant RDN first, joined by ",", with CryptoAPI's keys (S for the state, E for an
// email; "OID.<dotted>" for a type it has no key for), values in UTF-8 as they are, quoted the way
// CertNameToStr quotes them. certutil and PowerShell ($cert.Issuer) show the same parts least
// significant first with ", " between them: reversed and joined by "," they give this. OpenSSL's
// RFC 2253 form (ST=, emailAddress=, "\,", "\C3\BC") would never match it.

#include <openssl/x509.h>

#include <optional>
#include <string>

namespace easgate::identity {

// nullopt when a value can't be read as text.
std::optional<std::string> windows_name(const X509_NAME* name);

}  // namespace easgate::identity
