// crl_refresh.cache_dir: whether easgate, as the package runs it, can keep CRLs there, and which of
// those kept a start takes back (the offer `easgate run` makes before its first fetch). The doctor
// never makes the directory: run as root, it would leave one easgate can't write.
#include <algorithm>
#include <filesystem>
#include <system_error>
#include <vector>

#include "certificate_checks.hpp"
#include "easgate/common/text.hpp"
#include "easgate/identity/crl_cache.hpp"
#include "easgate/identity/crl_refresher.hpp"
#include "service_directory.hpp"

namespace easgate::doctor {
namespace {

namespace fs = std::filesystem;

// The directory easgate would make path in: path's nearest ancestor that exists.
fs::path nearest_existing(fs::path path) {
    std::error_code error;
    while (path.has_relative_path() && !fs::exists(path, error)) path = path.parent_path();
    return path;
}

std::vector<std::string> as_text(const std::vector<fs::path>& paths) {
    std::vector<std::string> text;
    for (const auto& path : paths) text.push_back(path.string());
    return text;
}

}  // namespace

void check_crl_cache(const config::ClientAuthConfig& client_auth, const std::string& prefix,
                     identity::RevocationStore& store, Report& report) {
    if (!client_auth.refreshes_crls() || client_auth.crl_refresh->cache_dir.empty()) return;
    const fs::path directory = client_auth.crl_refresh->cache_dir;
    const std::string check = prefix + " CRL cache";
    const std::string lost =
        ": CRLs fetched are not kept across restarts, so after each the first device of a CA whose CRL "
        "is not in crl_files is refused once (easgate logs \"CRL cache …: can't\")";
    const std::string own_directory =
        "point crl_refresh.cache_dir at a directory easgate owns: under /var/lib/easgate (the "
        "package's, easgate's own), or `install -d -o easgate -g easgate -m 0700 " +
        directory.string() + "`";

    const auto unit = ServiceUnit::installed();
    if (const auto writable = unit.writable(); writable) {
        const auto allowed = [&](const fs::path& root) { return within(directory, root); };
        if (std::ranges::none_of(*writable, allowed)) {
            report.warn("tls", check,
                        directory.string() + " is outside what " + unit.path().string() +
                            " lets easgate write (ProtectSystem=strict; writable: " +
                            common::join(as_text(*writable)) + ")" + lost,
                        "set crl_refresh.cache_dir: /var/lib/easgate/crls, or add ReadWritePaths=" +
                            directory.string() + " in a drop-in (systemctl edit easgate)");
            return;
        }
    }
    const auto account = unit.account();
    const std::string service = account ? "the service account " + account->name : "easgate";
    std::error_code error;
    if (!fs::exists(directory, error)) {
        const auto why = why_unwritable(nearest_existing(directory), account);
        if (why.empty())
            report.pass("tls", check,
                        directory.string() + " does not exist yet: " + service + " makes it (0700) at start");
        else
            report.warn(
                "tls", check,
                directory.string() + " does not exist, and " + service + " can't make it: " + why + lost,
                own_directory);
        return;
    }
    if (const auto why = why_unwritable(directory, account); !why.empty()) {
        report.warn("tls", check, service + " can't keep CRLs in it: " + why + lost, own_directory);
        return;
    }
    std::vector<std::string> kept;
    std::vector<std::string> left_out;
    for (const auto& entry : identity::CrlCache(directory, client_auth.crl_refresh->max_crl_bytes).load()) {
        const auto offered = identity::offer_crls(store, entry.body);
        if (!offered.error.empty()) {
            left_out.push_back(entry.url + " (" + offered.error + ")");
            continue;
        }
        auto crls = offered.installed;
        crls.insert(crls.end(), offered.held.begin(), offered.held.end());
        kept.push_back(common::join(crls) + " from " + entry.url);
        store.remember_distribution_point(entry.url, offered.deltas);
    }
    report.pass("tls", check,
                directory.string() + ", writable by " + service + ": " +
                    (kept.empty() ? "no CRL kept yet" : "a start uses " + common::join(kept, "; ")) +
                    (left_out.empty() ? "" : "; a start leaves out " + common::join(left_out, "; ")));
}

}  // namespace easgate::doctor
