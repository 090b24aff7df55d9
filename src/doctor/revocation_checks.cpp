#include <openssl/x509v3.h>

#include <algorithm>
#include <ctime>

#include "certificate_checks.hpp"
#include "easgate/identity/revocation_store.hpp"
#include "easgate/identity/trust_store.hpp"

namespace easgate::doctor {
namespace {

using identity::X509CrlPtr;
using identity::X509Ptr;

constexpr const char* publish_crl =
    "publish a new CRL on the CA (`certutil -CRL`; for an offline root, on the root and copy it over) and "
    "copy it to client_auth.crl_files, or turn on client_auth.crl_refresh";

// A listed CA by its subject, and by its key too when another listed CA has that name: a CA
// renewed with a new key (AD CS: `certutil -renewCert ReuseKeys` not given) keeps its name, and
// each key signs its own CRL and its own devices.
std::string ca_label(X509* ca, const std::vector<X509Ptr>& cas) {
    const bool name_shared = std::any_of(cas.begin(), cas.end(), [ca](const X509Ptr& other) {
        return other.get() != ca &&
               X509_NAME_cmp(X509_get_subject_name(other.get()), X509_get_subject_name(ca)) == 0;
    });
    const std::string key = identity::key_id_text(X509_get0_subject_key_id(ca));
    if (!name_shared || key.empty()) return quoted_subject(ca);
    return quoted_subject(ca) + " (key " + key + ")";
}

// Every CA of the file: anchor or link (see load_trust_anchors), and its expiry.
void list_cas(const std::vector<X509Ptr>& cas, const std::string& key, Report& report) {
    for (const auto& ca : cas) {
        const char* role = identity::is_chain_link(ca.get(), cas)
                               ? "link: its issuer is listed, whose CRL says "
                                 "whether it is revoked"
                           : X509_self_signed(ca.get(), 0) == 1 ? "anchor: a root"
                                                                : "anchor: listed without its issuer";
        report_validity(
            report, {"tls", key + " CA", "CA " + ca_label(ca.get(), cas) + " (" + role + ")"}, ca.get(),
            "renew the CA certificate on the CA (`certutil -renewCert`) and add the new one to " + key);
    }
}

// Which CAs may issue device certificates, as client_auth.issuers has it.
void check_issuers(const config::ClientAuthConfig& client_auth, const std::vector<X509Ptr>& cas,
                   const std::string& prefix, Report& report) {
    const std::string check = prefix + " device issuers";
    const auto is_root = [](const X509Ptr& ca) { return X509_self_signed(ca.get(), 0) == 1; };
    if (client_auth.issuers == config::DeviceIssuers::any_below_listed) {
        const auto root = std::find_if(cas.begin(), cas.end(), is_root);
        if (root == cas.end()) {
            report.pass("tls", check, "any CA below those of trusted_ca_file may issue device certificates");
            return;
        }
        report.warn("tls", check,
                    "any CA under " + quoted_subject(root->get()) +
                        " may issue device certificates (client_auth.issuers: any_below_listed): one for "
                        "Wi-Fi, VPN or a partner too, with any user's UPN",
                    "list the CAs that issue device certificates in " + prefix +
                        ".client_auth.trusted_ca_file and remove issuers: any_below_listed");
        return;
    }
    std::string names;
    for (const auto& ca : cas) names += (names.empty() ? "" : ", ") + quoted_subject(ca.get());
    if (!std::all_of(cas.begin(), cas.end(), is_root)) {
        report.pass("tls", check,
                    "only the CAs listed in trusted_ca_file issue device certificates: " + names);
        return;
    }
    report.warn("tls", check,
                "only roots are listed (" + names +
                    "), so only certificates a root issued itself pass: a device certificate from an "
                    "issuing CA under it is refused (\"a CA not listed\")",
                "in a two-tier PKI, add each issuing CA to " + prefix +
                    ".client_auth.trusted_ca_file (`certutil -ca.cert`, Base-64); where the root issues "
                    "device certificates itself, nothing to do");
}

// A CRL is judged by who signed it and its nextUpdate: past it, OpenSSL refuses every device below.
void check_crl(X509_CRL* crl, const config::ClientAuthConfig& client_auth, const std::vector<X509Ptr>& cas,
               const std::string& key, const std::string& path, Report& report) {
    X509* signer = identity::crl_signer(crl, cas);
    const std::string what = key + " " + path + ": " +
                             (identity::is_delta_crl(crl) ? "delta CRL of " : "CRL of ") +
                             (signer ? ca_label(signer, cas) : quoted_name(X509_CRL_get_issuer(crl)));
    if (!signer) {
        // A CRL naming a listed CA but signed by another key (a renewed CA whose new certificate is
        // not listed) is still picked for that CA's devices, and refuses them.
        const bool named = std::any_of(cas.begin(), cas.end(), [crl](const X509Ptr& ca) {
            return X509_NAME_cmp(X509_get_subject_name(ca.get()), X509_CRL_get_issuer(crl)) == 0;
        });
        report.fail("tls", key,
                    what + " is not signed by any CA in client_auth.trusted_ca_file" +
                        (named ? ": the CA of that name has another key, and its devices are refused "
                                 "(\"CRL signature failure\")"
                               : ": no listed CA has that name, so it never applies"),
                    "list the CA that issued this CRL in trusted_ca_file (a renewed CA: its current "
                    "certificate too), or remove the CRL from crl_files");
        return;
    }
    const ASN1_TIME* next_update = X509_CRL_get0_nextUpdate(crl);
    if (!next_update) {
        report.pass("tls", key, what + ", signed by a listed CA, has no nextUpdate");
        return;
    }
    const std::string next = identity::time_text(next_update);
    const auto grace =
        client_auth.refreshes_crls() ? client_auth.crl_refresh->grace : std::chrono::milliseconds(0);
    if (X509_cmp_current_time(next_update) < 0 && identity::within_grace(crl, grace)) {
        report.warn("tls", key,
                    what + " is past its nextUpdate " + next +
                        ", still used within client_auth.crl_refresh.grace; devices are refused after it",
                    publish_crl);
        return;
    }
    if (X509_cmp_current_time(next_update) < 0) {
        report.fail("tls", key,
                    what + " is past its nextUpdate " + next + ": devices below that CA are refused",
                    publish_crl);
        return;
    }
    // AD CS publishes a delta CRL for a day at a time: only its last hour is worth a warning.
    const bool delta = identity::is_delta_crl(crl);
    std::time_t soon = std::time(nullptr) + (delta ? 3600 : 24 * 3600);
    if (X509_cmp_time(next_update, &soon) < 0) {
        report.warn("tls", key,
                    what + " reaches its nextUpdate " + next + " within " + (delta ? "the hour" : "24 hours"),
                    publish_crl);
        return;
    }
    report.pass("tls", key, what + ", signed by a listed CA, valid until " + next);
}

// With revocation on, OpenSSL wants a CRL from every CA in a device's chain (CRL_CHECK_ALL): the
// issuing CA's for the device, the root's for the issuing CA.
void check_coverage(const config::ClientAuthConfig& client_auth, const std::vector<X509Ptr>& cas,
                    const std::vector<X509CrlPtr>& crls, const std::string& prefix, Report& report) {
    for (const auto& ca : cas) {
        const bool covered = std::any_of(crls.begin(), crls.end(), [&](const X509CrlPtr& crl) {
            return !identity::is_delta_crl(crl.get()) && identity::crl_signer(crl.get(), cas) == ca.get();
        });
        const std::string check = prefix + " CRL of CA";
        if (covered) {
            report.pass("tls", check, "client_auth.crl_files hold the CRL of " + ca_label(ca.get(), cas));
            continue;
        }
        const std::string label = ca_label(ca.get(), cas);
        const std::string found = "no CRL of " + label +
                                  " in client_auth.crl_files: every device whose chain passes through it is "
                                  "refused (\"unable to get certificate CRL\")";
        const std::string remedy =
            "copy that CA's CRL (on the CA: `certutil -CRL`, then its .crl from CertEnroll; an offline "
            "root's "
            "from where you publish it) into " +
            prefix + ".client_auth.crl_files; a two-tier AD CS PKI needs the root's and the issuing CA's" +
            (label == quoted_subject(ca.get())
                 ? ""
                 : "; a CA renewed with a new key has a CRL for each key (AD CS: \"<CA name>(1).crl\" for "
                   "its second key, \"(2)\" for the third)");
        if (client_auth.refreshes_crls())
            report.warn("tls", check,
                        found + " until crl_refresh has fetched it from a distribution point" +
                            (client_auth.crl_refresh->cache_dir.empty()
                                 ? ""
                                 : ", unless crl_refresh.cache_dir keeps it (the CRL cache check below)"),
                        remedy);
        else
            report.fail("tls", check, found, remedy);
    }
}

// AD CS publishes a delta CRL between base CRLs when the CA has one (the base weekly, the delta
// daily, by default) and names it in the base's Freshest CRL: a certificate revoked since the base
// is on the delta only, so easgate refuses that CA's devices without a current delta (as Windows
// does). crl_refresh fetches it; crl_files alone must hold it.
void check_deltas(const config::ClientAuthConfig& client_auth, const std::vector<X509Ptr>& cas,
                  const std::vector<X509CrlPtr>& crls, const std::string& prefix, Report& report) {
    if (client_auth.refreshes_crls()) return;
    for (const auto& base : crls) {
        const auto urls = identity::freshest_crl_urls(base.get());
        const X509* signer = identity::crl_signer(base.get(), cas);
        if (urls.empty() || identity::is_delta_crl(base.get()) || signer == nullptr) continue;
        const bool held = std::any_of(crls.begin(), crls.end(), [&](const X509CrlPtr& crl) {
            return identity::is_delta_crl(crl.get()) && identity::crl_signer(crl.get(), cas) == signer;
        });
        if (held) continue;
        report.fail("tls", prefix + " delta CRL",
                    "the CRL of " + quoted_name(X509_CRL_get_issuer(base.get())) + " names a delta CRL (" +
                        urls.front() +
                        ") that crl_files lack and crl_refresh is off: devices of that CA are refused "
                        "(\"unable to get delta CRL\"), as the base alone misses what was revoked since "
                        "it was published",
                    "turn on client_auth.crl_refresh (it fetches the delta CRL from that URL and keeps both "
                    "current), or copy the delta CRL (\"<CA name>+.crl\" in CertEnroll) into " +
                        prefix + ".client_auth.crl_files and keep it current (it lasts a day)");
    }
}

}  // namespace

void check_trust_and_crls(const config::ListenerConfig& listener, const std::string& prefix, Report& report) {
    const auto& client_auth = listener.client_auth;
    const std::string ca_key = prefix + ".client_auth.trusted_ca_file";
    const auto cas = identity::read_pem_certificates(client_auth.trusted_ca_file);
    if (cas.empty()) {
        report.fail("tls", ca_key, client_auth.trusted_ca_file + " holds no PEM CA certificate",
                    "export the issuing CA and the root (`certutil -ca.cert`, Base-64) into that file");
        return;
    }
    list_cas(cas, ca_key, report);
    check_issuers(client_auth, cas, prefix, report);
    std::vector<X509CrlPtr> crls;
    for (std::size_t j = 0; j < client_auth.crl_files.size(); ++j) {
        const auto& path = client_auth.crl_files[j];
        const std::string key = prefix + ".client_auth.crl_files[" + std::to_string(j) + "]";
        auto loaded = identity::read_crl_file(path);
        if (loaded.empty())
            report.fail("tls", key, path + " holds no CRL (PEM or DER) or can't be read",
                        "copy the CA's CRL (the .crl AD CS publishes in CertEnroll) to that path");
        for (auto& crl : loaded) {
            check_crl(crl.get(), client_auth, cas, key, path, report);
            crls.push_back(std::move(crl));
        }
    }
    if (!client_auth.checks_revocation()) {
        report.warn("tls", prefix + " revocation",
                    "no crl_files and no crl_refresh: devices are not checked for revocation, a revoked "
                    "certificate still gets in",
                    "list each CA's CRL in " + prefix + ".client_auth.crl_files, or turn on crl_refresh");
        return;
    }
    check_coverage(client_auth, cas, crls, prefix, report);
    check_deltas(client_auth, cas, crls, prefix, report);
}

}  // namespace easgate::doctor
