#include "easgate/identity/trust_store.hpp"

#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <array>
#include <functional>
#include <string_view>

#include "easgate/identity/revocation_store.hpp"

namespace easgate::identity {
namespace {

using BioPtr = common::OpenSslPtr<BIO, BIO_free>;

std::string bio_text(BIO* bio) {
    char* data = nullptr;
    const long size = BIO_get_mem_data(bio, &data);
    return std::string(data, static_cast<std::size_t>(size));
}

bool issuer_listed(X509* cert, const std::vector<X509Ptr>& listed) {
    for (const auto& candidate : listed) {
        if (candidate.get() != cert && X509_check_issued(candidate.get(), cert) == X509_V_OK) return true;
    }
    return false;
}

// The issuer of cert, quoted, as a refusal names it.
std::string quoted_issuer(X509* cert) {
    // Appended piece by piece: "\"" + name + "\"" makes GCC 12's -O3 report a false -Wrestrict.
    std::string quoted(1, '"');
    quoted += peer_name_text(X509_get_issuer_name(cert));
    quoted += '"';
    return quoted;
}

// Whose CRL a CRL error is about: the issuer of the certificate being checked.
std::string crl_issuer(X509_STORE_CTX* store) {
    X509* cert = X509_STORE_CTX_get_current_cert(store);
    return cert ? quoted_issuer(cert) : "its issuer";
}

// The entry's reasonCode (RFC 5280 5.3.1), as AD CS's "Revoke Certificate" dialog offers them; a
// hold is the one an admin can undo (AD CS: "Unrevoke Certificate").
std::string reason_of(const X509_REVOKED* entry) {
    static constexpr std::array<std::string_view, 11> names{"unspecified",
                                                            "keyCompromise",
                                                            "cACompromise",
                                                            "affiliationChanged",
                                                            "superseded",
                                                            "cessationOfOperation",
                                                            "certificateHold (the CA can release it)",
                                                            "",
                                                            "removeFromCRL",
                                                            "privilegeWithdrawn",
                                                            "aACompromise"};
    const common::OpenSslPtr<ASN1_ENUMERATED, ASN1_ENUMERATED_free> code(
        static_cast<ASN1_ENUMERATED*>(X509_REVOKED_get_ext_d2i(entry, NID_crl_reason, nullptr, nullptr)));
    if (!code) return "";
    const long value = ASN1_ENUMERATED_get(code.get());
    if (value < 0 || value >= static_cast<long>(names.size()) || names[value].empty())
        return ", reason code " + std::to_string(value);
    return ", reason " + std::string(names[value]);
}

void free_crls(STACK_OF(X509_CRL) * crls) { sk_X509_CRL_pop_free(crls, X509_CRL_free); }
using CrlStackPtr = common::OpenSslPtr<STACK_OF(X509_CRL), free_crls>;

// Whether crl is from the key that signed cert, by their Authority Key Identifiers: a CA renewed
// with a new key (AD CS does so every few years) keeps its name and publishes a CRL per key. A CRL
// or certificate without a key id can't tell, and is taken as from that key.
bool from_issuing_key(X509_CRL* crl, X509* cert) {
    const common::OpenSslPtr<AUTHORITY_KEYID, AUTHORITY_KEYID_free> crl_key(static_cast<AUTHORITY_KEYID*>(
        X509_CRL_get_ext_d2i(crl, NID_authority_key_identifier, nullptr, nullptr)));
    const ASN1_OCTET_STRING* cert_key = X509_get0_authority_key_id(cert);
    return !crl_key || !crl_key->keyid || !cert_key || ASN1_OCTET_STRING_cmp(crl_key->keyid, cert_key) == 0;
}

using CrlNumberPtr = common::OpenSslPtr<ASN1_INTEGER, ASN1_INTEGER_free>;

// A CRL's crlNumber (NID_crl_number) or, of a delta CRL, the number of its base (NID_delta_crl).
CrlNumberPtr crl_number(X509_CRL* crl, int nid) {
    return CrlNumberPtr(static_cast<ASN1_INTEGER*>(X509_CRL_get_ext_d2i(crl, nid, nullptr, nullptr)));
}

// How a delta CRL stands to the base CRL held. OpenSSL adds it (RFC 5280 5.2.4) when it was built
// on that base or an earlier one and is newer. One older than the base adds nothing the base lacks
// (a base fetched before its delta). One built on a newer base than the one held is of no use: the
// base held misses what the newer one listed.
enum class DeltaFit { adds, older, for_newer_base };

DeltaFit fit_of(X509_CRL* delta, X509_CRL* base) {
    const auto base_number = crl_number(base, NID_crl_number);
    const auto delta_number = crl_number(delta, NID_crl_number);
    const auto built_on = crl_number(delta, NID_delta_crl);
    if (!base_number || !delta_number || !built_on) return DeltaFit::for_newer_base;  // can't tell: no use
    if (ASN1_INTEGER_cmp(built_on.get(), base_number.get()) > 0) return DeltaFit::for_newer_base;
    return ASN1_INTEGER_cmp(delta_number.get(), base_number.get()) > 0 ? DeltaFit::adds : DeltaFit::older;
}

// Whether the store holds a base CRL of cert's issuer's name, but none from the key that signed cert.
bool only_other_keys_crls(X509_STORE_CTX* store, X509* cert) {
    const CrlStackPtr named(X509_STORE_CTX_get1_crls(store, X509_get_issuer_name(cert)));
    bool other_key = false;
    for (int i = 0; named && i < sk_X509_CRL_num(named.get()); ++i) {
        X509_CRL* crl = sk_X509_CRL_value(named.get(), i);
        if (is_delta_crl(crl)) continue;
        if (from_issuing_key(crl, cert)) return false;
        other_key = true;
    }
    return other_key;
}

// How crl lists cert as revoked: the CRL, the date and the reason it gives; "" when it does not (a
// removeFromCRL entry of a delta included: the certificate was released from hold).
std::string listing(X509_CRL* crl, X509* cert) {
    X509_REVOKED* entry = nullptr;
    if (!crl || X509_CRL_get0_by_cert(crl, &entry, cert) != 1 || !entry) return "";
    return ": listed by the " + describe_crl(crl) + " as revoked on " +
           time_text(X509_REVOKED_get0_revocationDate(entry)) + reason_of(entry);
}

// What revoked the certificate being checked: the CRL, the date and the reason it gives.
std::string revocation_of(X509_STORE_CTX* store) {
    X509* cert = X509_STORE_CTX_get_current_cert(store);
    if (!cert) return "";
    const auto listed_by = [cert](X509_CRL* crl) { return listing(crl, cert); };
    if (auto text = listed_by(X509_STORE_CTX_get0_current_crl(store)); !text.empty()) return text;
    // OpenSSL gives the base CRL as the current one even when only its delta lists the certificate
    // (a device revoked since the base was published).
    const CrlStackPtr same_issuer(X509_STORE_CTX_get1_crls(store, X509_get_issuer_name(cert)));
    for (int i = 0; same_issuer && i < sk_X509_CRL_num(same_issuer.get()); ++i) {
        X509_CRL* candidate = sk_X509_CRL_value(same_issuer.get(), i);
        if (!is_delta_crl(candidate) || !from_issuing_key(candidate, cert)) continue;
        if (auto text = listed_by(candidate); !text.empty()) return text;
    }
    return "";
}

}  // namespace

std::string name_text(const X509_NAME* name) {
    const BioPtr bio(BIO_new(BIO_s_mem()));
    X509_NAME_print_ex(bio.get(), name, 0, XN_FLAG_RFC2253);
    return bio_text(bio.get());
}

std::string peer_name_text(const X509_NAME* name) {
    constexpr std::size_t max_chars = 512;
    std::string text = name_text(name);
    if (text.size() > max_chars) text = text.substr(0, max_chars) + "…(cut)";
    return text;
}

std::string time_text(const ASN1_TIME* time) {
    if (!time) return "never";
    const BioPtr bio(BIO_new(BIO_s_mem()));
    ASN1_TIME_print_ex(bio.get(), time, ASN1_DTFLGS_ISO8601);
    return bio_text(bio.get());
}

std::vector<X509Ptr> read_pem_certificates(const std::string& path) {
    std::vector<X509Ptr> certificates;
    const BioPtr bio(BIO_new_file(path.c_str(), "r"));
    if (bio) {
        while (X509* cert = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr))
            certificates.emplace_back(cert);
    }
    ERR_clear_error();  // the read that ended the loop, or the open that failed
    return certificates;
}

bool is_chain_link(X509* cert, const std::vector<X509Ptr>& listed) {
    return X509_self_signed(cert, 0) != 1 && issuer_listed(cert, listed);
}

std::vector<X509Ptr> load_trust_anchors(const std::string& path) {
    auto certificates = read_pem_certificates(path);
    for (const auto& cert : certificates) {
        if (X509_self_signed(cert.get(), 0) == 1 || issuer_listed(cert.get(), certificates)) continue;
        // Without PARTIAL_CHAIN, which would also stop at an issuing CA whose root is listed.
        X509_add1_trust_object(cert.get(), OBJ_nid2obj(NID_client_auth));
    }
    return certificates;
}

std::vector<X509CrlPtr> parse_crls(const std::string& bytes) {
    std::vector<X509CrlPtr> crls;
    const BioPtr pem(BIO_new_mem_buf(bytes.data(), static_cast<int>(bytes.size())));
    while (X509_CRL* crl = PEM_read_bio_X509_CRL(pem.get(), nullptr, nullptr, nullptr))
        crls.emplace_back(crl);
    ERR_clear_error();
    if (!crls.empty()) return crls;
    const auto* der = reinterpret_cast<const unsigned char*>(bytes.data());
    if (X509_CRL* crl = d2i_X509_CRL(nullptr, &der, static_cast<long>(bytes.size()))) crls.emplace_back(crl);
    ERR_clear_error();
    return crls;
}

std::vector<X509CrlPtr> read_crl_file(const std::string& path) {
    const BioPtr bio(BIO_new_file(path.c_str(), "rb"));
    if (!bio) {
        ERR_clear_error();
        return {};
    }
    std::string bytes;
    char chunk[4096];
    for (int n; (n = BIO_read(bio.get(), chunk, sizeof chunk)) > 0;)
        bytes.append(chunk, static_cast<std::size_t>(n));
    return parse_crls(bytes);
}

X509* crl_signer(X509_CRL* crl, const std::vector<X509Ptr>& cas) {
    for (const auto& ca : cas) {
        if (X509_NAME_cmp(X509_get_subject_name(ca.get()), X509_CRL_get_issuer(crl)) != 0) continue;
        if (X509_CRL_verify(crl, X509_get0_pubkey(ca.get())) == 1) return ca.get();
    }
    ERR_clear_error();
    return nullptr;
}

X509* certificate_signer(X509* cert, const std::vector<X509Ptr>& cas) {
    for (const auto& ca : cas) {
        if (X509_check_issued(ca.get(), cert) != X509_V_OK) continue;
        if (X509_verify(cert, X509_get0_pubkey(ca.get())) == 1) return ca.get();
    }
    ERR_clear_error();
    return nullptr;
}

X509StorePtr build_trust_store(const std::vector<X509Ptr>& anchors, const std::vector<X509CrlPtr>& crls,
                               bool check_revocation) {
    X509StorePtr store(X509_STORE_new());
    for (const auto& cert : anchors) X509_STORE_add_cert(store.get(), cert.get());
    for (const auto& crl : crls) X509_STORE_add_crl(store.get(), crl.get());
    ERR_clear_error();  // a CRL listed twice is no error
    // Without EXTENDED_CRL_SUPPORT, OpenSSL 3.0 may pick a delta CRL as if it were the full CRL
    // (get_crl_score skips deltas only with it), and miss what only the base CRL lists.
    if (check_revocation) {
        X509_STORE_set_flags(store.get(), X509_V_FLAG_CRL_CHECK | X509_V_FLAG_CRL_CHECK_ALL |
                                              X509_V_FLAG_USE_DELTAS | X509_V_FLAG_EXTENDED_CRL_SUPPORT);
    }
    return store;
}

std::string key_id_text(const ASN1_OCTET_STRING* key_id) {
    if (!key_id) return "";
    const common::OpenSslString text(i2s_ASN1_OCTET_STRING(nullptr, key_id));
    return text ? text.get() : "";
}

bool is_delta_crl(const X509_CRL* crl) { return X509_CRL_get_ext_by_NID(crl, NID_delta_crl, -1) >= 0; }

bool for_newer_base(X509_CRL* delta, X509_CRL* base) {
    return fit_of(delta, base) == DeltaFit::for_newer_base;
}

bool newer_crl(X509_CRL* candidate, X509_CRL* held) {
    const auto candidate_number = crl_number(candidate, NID_crl_number);
    const auto held_number = crl_number(held, NID_crl_number);
    if (candidate_number && held_number)
        return ASN1_INTEGER_cmp(candidate_number.get(), held_number.get()) > 0;
    return ASN1_TIME_compare(X509_CRL_get0_lastUpdate(candidate), X509_CRL_get0_lastUpdate(held)) > 0;
}

std::string describe_crl(const X509_CRL* crl) {
    return std::string(is_delta_crl(crl) ? "delta " : "") + "CRL of \"" +
           name_text(X509_CRL_get_issuer(crl)) + "\" (nextUpdate " +
           time_text(X509_CRL_get0_nextUpdate(crl)) + ")";
}

bool is_missing_anchor_crl(X509_STORE_CTX* store) {
    if (X509_STORE_CTX_get_error(store) != X509_V_ERR_UNABLE_TO_GET_CRL) return false;
    STACK_OF(X509)* chain = X509_STORE_CTX_get0_chain(store);
    return chain && X509_STORE_CTX_get_error_depth(store) == sk_X509_num(chain) - 1;
}

std::string delta_crl_refusal(X509_STORE_CTX* store, const std::function<bool(const X509_CRL*)>& current) {
    const X509_VERIFY_PARAM* param = X509_STORE_CTX_get0_param(store);
    if ((X509_VERIFY_PARAM_get_flags(param) & X509_V_FLAG_USE_DELTAS) == 0) return "";
    STACK_OF(X509)* chain = X509_STORE_CTX_get0_chain(store);
    for (int i = 0; chain && i + 1 < sk_X509_num(chain); ++i) {  // the anchor's own CRL is not needed
        X509* cert = sk_X509_value(chain, i);
        const CrlStackPtr named(X509_STORE_CTX_get1_crls(store, X509_get_issuer_name(cert)));
        const auto of_key = [&](bool delta) {
            std::vector<X509_CRL*> crls;
            for (int j = 0; named && j < sk_X509_CRL_num(named.get()); ++j) {
                X509_CRL* crl = sk_X509_CRL_value(named.get(), j);
                if (is_delta_crl(crl) == delta && from_issuing_key(crl, cert)) crls.push_back(crl);
            }
            return crls;
        };
        // The base OpenSSL goes by, and whether it names deltas: a CA that stopped publishing them
        // publishes bases without, whatever its older certificates say.
        X509_CRL* base = nullptr;
        for (X509_CRL* crl : of_key(false))
            if (!base || newer_crl(crl, base)) base = crl;
        if (!base || X509_CRL_get_ext_by_NID(base, NID_freshest_crl, -1) < 0) continue;
        X509_CRL* stale = nullptr;      // of use, but past its nextUpdate (and grace)
        X509_CRL* unfitting = nullptr;  // for a newer base than the one held
        X509_CRL* usable = nullptr;
        bool adds = false;
        for (X509_CRL* delta : of_key(true)) {
            const DeltaFit fit = fit_of(delta, base);
            if (fit == DeltaFit::for_newer_base) {
                unfitting = delta;
            } else if (current(delta)) {
                usable = delta;
                adds = fit == DeltaFit::adds;
                break;
            } else if (!stale || ASN1_TIME_compare(X509_CRL_get0_nextUpdate(delta),
                                                   X509_CRL_get0_nextUpdate(stale)) > 0) {
                stale = delta;
            }
        }
        const auto concerning = [&](int error) {  // only when refusing: the callback goes on otherwise
            X509_STORE_CTX_set_error_depth(store, i);
            X509_STORE_CTX_set_current_cert(store, cert);
            X509_STORE_CTX_set_error(store, error);
        };
        if (usable) {
            // OpenSSL adds a delta to a base only when their AKID and IDP extensions match too, and
            // may have gone by another base than the newest: what these two say of the certificate
            // counts whatever it did. A delta's removeFromCRL releases what the base listed.
            X509_REVOKED* entry = nullptr;
            const int in_delta = adds ? X509_CRL_get0_by_cert(usable, &entry, cert) : 0;
            const std::string listed = in_delta == 1   ? listing(usable, cert)
                                       : in_delta == 0 ? listing(base, cert)
                                                       : "";
            if (listed.empty()) continue;
            concerning(X509_V_ERR_CERT_REVOKED);
            return X509_verify_cert_error_string(X509_V_ERR_CERT_REVOKED) + listed;
        }
        const std::string issuer = quoted_issuer(cert);
        const std::string remedy =
            ": the base CRL alone misses every certificate revoked since it was published; let "
            "client_auth.crl_refresh fetch the delta (easgate_crl_distribution_points_failing says whether "
            "it can), or copy the CA's current base and delta CRLs, of one publication, to "
            "client_auth.crl_files";
        if (stale) {
            concerning(X509_V_ERR_CRL_HAS_EXPIRED);
            return "delta CRL has expired: the delta CRL of " + issuer + " was due for renewal at " +
                   time_text(X509_CRL_get0_nextUpdate(stale)) + remedy;
        }
        concerning(X509_V_ERR_UNABLE_TO_GET_CRL);
        if (unfitting)
            return "unable to get delta CRL: the delta CRL of " + issuer +
                   " held was published for a newer base CRL than the one held" + remedy;
        // Where the base says its deltas are, for a location easgate can't fetch (ldap://server/…).
        std::string locations;
        for (const auto& url : freshest_crl_urls(base)) locations += (locations.empty() ? ": " : ", ") + url;
        return "unable to get delta CRL: the base CRL of " + issuer + " names a delta CRL (Freshest CRL" +
               locations + ") and none is loaded" + remedy;
    }
    return "";
}

std::string explain_verify_error(X509_STORE_CTX* store) {
    const int error = X509_STORE_CTX_get_error(store);
    std::string text = X509_verify_cert_error_string(error);
    const X509_CRL* crl = X509_STORE_CTX_get0_current_crl(store);
    switch (error) {
        case X509_V_ERR_UNABLE_TO_GET_CRL: {
            X509* cert = X509_STORE_CTX_get_current_cert(store);
            if (cert && only_other_keys_crls(store, cert))
                return text + ": no CRL of " + crl_issuer(store) +
                       " from the key that issued this certificate (" +
                       key_id_text(X509_get0_authority_key_id(cert)) +
                       ") is loaded, only from another key of that CA (a CA renewed with a new key publishes "
                       "a CRL for each; AD CS names the renewed key's \"<CA name>(1).crl\"): add it to "
                       "client_auth.crl_files or turn on client_auth.crl_refresh";
            return text + ": no CRL of " + crl_issuer(store) +
                   " is loaded: add it to client_auth.crl_files or turn on client_auth.crl_refresh";
        }
        case X509_V_ERR_CRL_HAS_EXPIRED:
            return text + ": the CRL of " + crl_issuer(store) + " was due for renewal" +
                   (crl ? " at " + time_text(X509_CRL_get0_nextUpdate(crl)) : "") +
                   ": copy the CA's current CRL to client_auth.crl_files, or let client_auth.crl_refresh "
                   "fetch it";
        case X509_V_ERR_CRL_NOT_YET_VALID:
            return text + ": the CRL of " + crl_issuer(store) + " starts later" +
                   (crl ? " (" + time_text(X509_CRL_get0_lastUpdate(crl)) + ")" : "") +
                   ": check easgate's clock";
        case X509_V_ERR_CERT_REVOKED:
            return text + revocation_of(store);
        case X509_V_ERR_CRL_SIGNATURE_FAILURE:
            return text + ": the CRL claiming to be from " + crl_issuer(store) + " is not signed by that CA";
        default:
            return text;
    }
}

}  // namespace easgate::identity
