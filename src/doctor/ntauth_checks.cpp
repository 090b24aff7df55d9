#include <openssl/err.h>
#include <openssl/x509.h>

#include <algorithm>

#include "certificate_checks.hpp"
#include "checks.hpp"
#include "directory_session.hpp"
#include "easgate/identity/listed_issuers.hpp"
#include "easgate/identity/trust_store.hpp"

namespace easgate::doctor {
namespace {

using identity::X509Ptr;

constexpr const char* ntauth_rdns = "CN=NTAuthCertificates,CN=Public Key Services,CN=Services,";

// The forest's NTAuth store: the CAs Windows trusts to issue logon certificates (an enterprise CA
// publishes itself there). Empty with why set when it can't be read.
std::vector<X509Ptr> read_ntauth(DirectorySession& session, std::string& why) {
    const std::string root_dse;
    const auto root = session.search("(objectClass=*)", {"configurationNamingContext"}, &root_dse);
    const std::string configuration =
        root.entries.empty() ? "" : first_value(root.entries.front(), "configurationNamingContext");
    if (configuration.empty()) {
        why = "the rootDSE of " + session.uri() + " names no configurationNamingContext";
        return {};
    }
    const std::string store = ntauth_rdns + configuration;
    const auto found = session.search("(objectClass=*)", {"cACertificate"}, &store);
    if (found.status.code == LDAP_NO_SUCH_OBJECT || (found.status.ok() && found.entries.empty())) {
        why = "the forest has no NTAuth store (" + store + "): no enterprise CA has published to it";
        return {};
    }
    if (!found.status.ok()) {
        why = "reading " + store + " on " + session.uri() + " failed: " + found.status.message;
        return {};
    }
    std::vector<X509Ptr> cas;
    const auto& entry = found.entries.front();
    if (const auto values = entry.find("cACertificate"); values != entry.end()) {
        for (const auto& der : values->second) {
            const auto* bytes = reinterpret_cast<const unsigned char*>(der.data());
            if (X509* ca = d2i_X509(nullptr, &bytes, static_cast<long>(der.size()))) cas.emplace_back(ca);
        }
    }
    ERR_clear_error();  // a value that is no certificate
    if (cas.empty()) why = store + " holds no certificate";
    return cas;
}

// The CAs of trusted_ca_file that issue device certificates: those below a root that issued no
// other listed CA (the issuing CAs, not a three-tier PKI's policy CA), or the roots where nothing
// else is listed (a one-tier PKI).
std::vector<X509*> device_issuers(const std::vector<X509Ptr>& cas) {
    std::vector<X509*> issuing;
    for (const auto& ca : cas) {
        const bool issued_another = std::any_of(cas.begin(), cas.end(), [&ca](const X509Ptr& other) {
            return other != ca && X509_check_issued(ca.get(), other.get()) == X509_V_OK;
        });
        if (X509_self_signed(ca.get(), 0) != 1 && !issued_another) issuing.push_back(ca.get());
    }
    if (issuing.empty())
        for (const auto& ca : cas) issuing.push_back(ca.get());
    return issuing;
}

// Whether cas holds ca, as the gateway matches CAs (by name and key).
bool holds(const std::vector<X509Ptr>& cas, X509* ca) {
    return std::any_of(cas.begin(), cas.end(),
                       [ca](const X509Ptr& own) { return identity::same_ca(own.get(), ca); });
}

// The NTAuth CA that ca (listed) issued: with only the root listed, Windows trusts the CA below it.
X509* ntauth_ca_below(X509* ca, const std::vector<X509Ptr>& ntauth, const std::vector<X509Ptr>& cas) {
    for (const auto& trusted : ntauth)
        if (identity::certificate_signer(trusted.get(), cas) == ca) return trusted.get();
    return nullptr;
}

void compare_listener(const config::ListenerConfig& listener, const std::string& prefix,
                      const std::vector<X509Ptr>& ntauth, Report& report) {
    const std::string check = prefix + " NTAuth";
    const auto cas = identity::read_pem_certificates(listener.client_auth.trusted_ca_file);
    const bool listed_only = listener.client_auth.issuers == config::DeviceIssuers::listed;
    std::string published;
    for (X509* ca : device_issuers(cas)) {
        if (holds(ntauth, ca)) {
            published += (published.empty() ? "" : ", ") + quoted_subject(ca);
            continue;
        }
        if (X509* below = ntauth_ca_below(ca, ntauth, cas)) {
            // Listed issuers: the warning below names it. Any below listed: it issues devices here.
            if (!listed_only)
                published += (published.empty() ? "" : ", ") + quoted_subject(below) + " (below " +
                             quoted_subject(ca) + ")";
            continue;
        }
        report.warn("tls", check,
                    "CA " + quoted_subject(ca) +
                        " issues device certificates here, but is not in AD's NTAuth store: Windows trusts "
                        "it for no certificate logon",
                    "if it issues your users' certificates, publish it as an Enterprise Admin: certutil "
                    "-dspublish -f <CA>.cer NTAuthCA; if it should not vouch for users, remove it from " +
                        prefix + ".client_auth.trusted_ca_file; a CA kept for mobile devices alone is fine");
    }
    if (!published.empty())
        report.pass("tls", check, "in AD's NTAuth store, as for Windows logons: " + published);
    if (!listed_only) return;
    // A second issuing CA under the listed root, left out: its devices are refused.
    for (const auto& ca : ntauth) {
        if (holds(cas, ca.get()) || !identity::certificate_signer(ca.get(), cas)) continue;
        report.warn(
            "tls", check,
            "AD's NTAuth store holds CA " + quoted_subject(ca.get()) +
                ", issued by a CA listed here but not listed itself: device certificates it issues are "
                "refused (client_auth.issuers: listed)",
            "if it issues device certificates, add it to " + prefix +
                ".client_auth.trusted_ca_file (`certutil -ca.cert`, Base-64)");
    }
}

}  // namespace

void check_ntauth(const config::Config& config, Report& report) {
    if (!config.directory) {
        report.skip("tls", "NTAuth", "needs the directory: section");
        return;
    }
    try {
        DirectorySession session(*config.directory, config.kerberos ? &*config.kerberos : nullptr);
        if (const auto status = session.open_any(); !status.ok()) {
            report.skip("tls", "NTAuth", "not checked: no directory server bound: " + status.message);
            return;
        }
        std::string why;
        const auto ntauth = read_ntauth(session, why);
        if (ntauth.empty()) {
            report.skip("tls", "NTAuth", "not compared: " + why);
            return;
        }
        for (std::size_t i = 0; i < config.listeners.size(); ++i)
            compare_listener(config.listeners[i], "listeners[" + std::to_string(i) + "]", ntauth, report);
    } catch (const config::ConfigError& e) {
        report.skip("tls", "NTAuth", std::string("not checked: ") + e.what());
    }
}

}  // namespace easgate::doctor
