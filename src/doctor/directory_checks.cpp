#include <ldap.h>

#include <algorithm>
#include <memory>
#include <utility>
#include <vector>

#include "checks.hpp"
#include "directory_session.hpp"
#include "probe.hpp"

namespace easgate::doctor {
namespace {

constexpr const char* directory_area = "directory";

struct LdapUrlRelease {
    void operator()(LDAPURLDesc* url) const { ldap_free_urldesc(url); }
};

// TCP, then TLS as `easgate run` would use it (LDAPS, or StartTLS on ldap://), with the reason a
// failed verification gives: libldap would only say "Can't contact LDAP server".
bool check_reachable_and_tls(const config::DirectoryConfig& directory, const std::string& uri,
                             const LDAPURLDesc& url, Report& report) {
    const std::string host = url.lud_host != nullptr ? url.lud_host : "";
    const bool ldaps = std::string_view(url.lud_scheme) == "ldaps";
    const auto port = static_cast<std::uint16_t>(url.lud_port != 0 ? url.lud_port : (ldaps ? 636 : 389));
    // SEG set-ups often searched the forest there.
    if (port == 3268 || port == 3269)
        report.warn(directory_area, uri + " Global Catalog",
                    "port " + std::to_string(port) +
                        " is a Global Catalog's: it holds only the attributes replicated forest-wide, so "
                        "some that easgate checks (the lockout and expiry, the Exchange device lists) may be "
                        "missing from its answers (then every user gets 503 naming them), and an account of "
                        "another domain than easgate's realm is refused (other_domain)",
                    "name this domain's DCs: ldaps://<dc>:636, or ldap://<dc> with StartTLS");
    Probe probe(directory.timeout, directory.ca_file);
    if (const auto error = probe.connect(host, port); !error.empty()) {
        report.fail(directory_area, uri + " reachable", error,
                    "check that the DC is up and that port " + std::to_string(port) +
                        " is open from this host (firewall), and that the name resolves to the DC");
        return false;
    }
    report.pass(directory_area, uri + " reachable", "TCP connection to " + host + ":" + std::to_string(port));
    if (!ldaps && directory.ldap_tls == config::LdapTls::none) {
        report.warn(directory_area, uri + " TLS",
                    "no TLS: directory.ldap_tls is none, searches travel in the clear",
                    "set directory.ldap_tls: starttls, or use an ldaps:// URI");
        return true;
    }
    std::string error = ldaps ? "" : probe.start_ldap_tls();
    if (error.empty()) error = probe.handshake(host);
    const std::string how = ldaps ? "LDAPS" : "StartTLS";
    if (!error.empty()) {
        report.fail(directory_area, uri + " TLS", how + ": " + error,
                    "directory.ca_file (" +
                        (directory.ca_file.empty() ? "the system store" : directory.ca_file) +
                        ") must hold the CA that issued the DC's certificate, and the URI must use a "
                        "name the certificate carries");
        return false;
    }
    report.pass(directory_area, uri + " TLS", how + ": the DC's certificate is verified for " + host);
    return true;
}

void check_bind(const config::Config& config, const std::string& uri, Report& report) {
    const auto& directory = *config.directory;
    const bool gssapi = directory.bind == config::DirectoryBind::gssapi;
    const std::string as = gssapi ? (config.kerberos ? config.kerberos->principal : "?") + " (GSSAPI, keytab)"
                                  : directory.bind_dn + " (simple bind)";
    try {
        DirectorySession session(directory, config.kerberos ? &*config.kerberos : nullptr);
        const auto status = session.open(uri);
        if (status.ok()) {
            report.pass(directory_area, uri + " bind", "bound as " + as);
            return;
        }
        report.fail(directory_area, uri + " bind", "bind as " + as + " failed: " + status.message,
                    gssapi ? "the kerberos checks above say whether the keytab works; the DC needs an "
                             "ldap/<dc name> SPN (every DC has it) and the URI must name the DC, not an "
                             "alias or address, for Kerberos to find it"
                           : "check directory.bind.dn and the password in directory.bind.password_file");
    } catch (const config::ConfigError& e) {
        report.fail(directory_area, uri + " bind", e.what(), "correct the directory: section");
    }
}

}  // namespace

void check_directory(const config::Config& config, Report& report) {
    if (!config.directory) {
        report.skip(directory_area, "directory",
                    "no directory: section: certificates are not looked up in AD");
        return;
    }
    // Each URI on its own first: a DC that is down while another serves is one DC fewer (WARN), not
    // a gateway that can't look users up (FAIL). A wrong certificate or bind stays a FAIL: it breaks
    // the failover to that DC.
    std::vector<std::pair<std::string, Report>> each;
    for (const auto& uri : config.directory->uris) {
        Report& found = each.emplace_back(uri, Report{}).second;
        LDAPURLDesc* parsed = nullptr;
        if (ldap_url_parse(uri.c_str(), &parsed) != LDAP_URL_SUCCESS) {
            found.fail(directory_area, uri, "not an LDAP URI",
                       "write it as ldaps://dc1.example.com or ldap://dc1.example.com");
            continue;
        }
        const std::unique_ptr<LDAPURLDesc, LdapUrlRelease> url(parsed);
        if (check_reachable_and_tls(*config.directory, uri, *url, found))
            check_bind(config, uri, found);
        else
            found.skip(directory_area, uri + " bind", "not tried: no working connection");
    }
    const auto serving = std::find_if(each.begin(), each.end(), [](const auto& uri) {
        return !uri.second.failed() && uri.second.findings().back().verdict != Verdict::skip;
    });
    for (auto& [uri, found] : each) {
        for (auto finding : found.findings()) {
            if (serving != each.end() && finding.verdict == Verdict::fail &&
                finding.check == uri + " reachable") {
                finding.verdict = Verdict::warn;
                finding.remedy =
                    "easgate looks users up on " + serving->first + " meanwhile (it tries the URIs in " +
                    "order, so a DC that hangs rather than refuses costs directory.timeout first); " +
                    finding.remedy;
            }
            report.add(std::move(finding));
        }
    }
}

}  // namespace easgate::doctor
