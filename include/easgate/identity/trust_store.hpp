#pragma once

// The store a device's chain is verified against: the configured CAs and their CRLs, nothing else.

#include <openssl/x509_vfy.h>

#include <functional>
#include <string>
#include <vector>

#include "easgate/common/openssl_ptr.hpp"

namespace easgate::identity {

using X509Ptr = common::OpenSslPtr<X509, X509_free>;
using X509CrlPtr = common::OpenSslPtr<X509_CRL, X509_CRL_free>;
using X509StorePtr = common::OpenSslPtr<X509_STORE, X509_STORE_free>;

// The PEM certificates in a file, in file order; empty when it can't be read or holds none.
std::vector<X509Ptr> read_pem_certificates(const std::string& path);

// Whether cert is a link of the trust file rather than an anchor: not self-signed, and its issuer
// is among listed.
bool is_chain_link(X509* cert, const std::vector<X509Ptr>& listed);

// The PEM certificates of trusted_ca_file. A CA listed without its issuer (an issuing CA whose
// offline root the admin left out) is marked trusted for client authentication by itself; a CA
// whose issuer is listed too is only a link, so the chain goes on to the root and the root's CRL
// decides whether that CA is revoked. Empty when the file holds no certificate.
std::vector<X509Ptr> load_trust_anchors(const std::string& path);

// CRLs from PEM (several) or DER bytes, as AD CS publishes them; empty when none parses.
std::vector<X509CrlPtr> parse_crls(const std::string& bytes);
// The same from a file; empty when it can't be read.
std::vector<X509CrlPtr> read_crl_file(const std::string& path);

// The CA among cas whose key signed crl (name and signature checked), or null.
X509* crl_signer(X509_CRL* crl, const std::vector<X509Ptr>& cas);
// The CA among cas that issued cert (names, key identifiers and signature checked), or null.
X509* certificate_signer(X509* cert, const std::vector<X509Ptr>& cas);

// A fresh store of the anchors and CRLs; with check_revocation, every certificate below the
// trust anchor must have a current CRL (X509_V_FLAG_CRL_CHECK_ALL, delta CRLs used).
X509StorePtr build_trust_store(const std::vector<X509Ptr>& anchors, const std::vector<X509CrlPtr>& crls,
                               bool check_revocation);

// True for the one verification error that is no reason to refuse: the trust anchor's own CRL is
// missing. RFC 5280 (6.1) checks no anchor's revocation, and an issuing CA listed without its root
// has nobody here to sign a CRL about it.
bool is_missing_anchor_crl(X509_STORE_CTX* store);

// A distinguished name (RFC 2253) and a time (ISO 8601, "never" for none), as messages show them.
std::string name_text(const X509_NAME* name);
// name_text of a name a peer's certificate carries, cut to 512 characters: one a refused
// (untrusted) peer chose can be tens of KiB, and its log line must stay a line.
std::string peer_name_text(const X509_NAME* name);
std::string time_text(const ASN1_TIME* time);

// A key identifier as `openssl x509 -text` shows it ("AB:CD:…"); "" for none.
std::string key_id_text(const ASN1_OCTET_STRING* key_id);

// Whether crl is a delta CRL (it carries a Delta CRL Indicator).
bool is_delta_crl(const X509_CRL* crl);
// Whether delta was built on a newer base CRL than base (its BaseCRLNumber above base's crlNumber,
// or either number missing): OpenSSL would not add it to base.
bool for_newer_base(X509_CRL* delta, X509_CRL* base);
// Whether candidate is newer than held (both of one CA key and kind): by crlNumber, else thisUpdate.
bool newer_crl(X509_CRL* candidate, X509_CRL* held);
// A CRL in a log line: base or delta, its issuer and nextUpdate.
std::string describe_crl(const X509_CRL* crl);

// OpenSSL judges a delta CRL's dates only to excuse an expired base, and goes by the base alone when
// it holds no delta that adds to it (nor one whose AKID and IDP extensions match the base's): a
// device revoked since the base was published would pass for the rest of the base's period (AD CS:
// a week) once its CA's delta went stale, never came, or came for a newer base. So where the newest
// base CRL of the key that signed a certificate names deltas (Freshest CRL, as AD CS's do), a delta
// from that key must be held that is `current` (nextUpdate ahead, or within grace) and adds to that
// base, or is older than it (a base fetched before its delta: it holds what that delta listed); and
// what that base and delta say of the certificate counts, whatever OpenSSL paired. For the verified
// chain in store, below its anchor: "" when all is well, else the refusal, with the store's error
// and current certificate set to the one concerned. Nothing when deltas are not in use.
std::string delta_crl_refusal(X509_STORE_CTX* store, const std::function<bool(const X509_CRL*)>& current);

// The operator's explanation of a verification error: OpenSSL's words, and for a CRL problem whose
// CRL it is and what to do; for a revoked certificate, the CRL that lists it and since when.
std::string explain_verify_error(X509_STORE_CTX* store);

}  // namespace easgate::identity
