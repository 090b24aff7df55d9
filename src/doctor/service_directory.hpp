#pragma once

// Whether easgate, run as the package runs it, can make files in a directory (crl_refresh.cache_dir):
// judged for the service account, not for whoever runs the doctor (often root), and inside the
// package's systemd sandbox, which leaves the file system read-only but for easgate's own directories.

#include <sys/stat.h>
#include <sys/types.h>

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace easgate::doctor {

// "easgate:easgate 0700": a file's owner, group and permission bits as an admin reads them.
std::string owner_and_mode(const struct stat& file);

struct ServiceAccount {
    uid_t uid = 0;
    std::vector<gid_t> groups;  // primary and supplementary
};

// The package's account `easgate`; none where easgate runs as whoever started it.
std::optional<ServiceAccount> service_account();

// "" when account (or, without one, this process) may make files in directory; else what stands in
// the way, e.g. "/var/cache is root:root 0755".
std::string why_unwritable(const std::filesystem::path& directory,
                           const std::optional<ServiceAccount>& account);

// "" when account (or, without one, this process) may read file, its directories included; else
// what stands in the way, e.g. "/etc/easgate/easgate.keytab is root:root 0600".
std::string why_unreadable(const std::filesystem::path& file, const std::optional<ServiceAccount>& account);

// Run as root, the doctor reads what the service may not: "" when the service account (when there
// is one, and the doctor runs as root) may read file, else what stands in the way.
std::string why_the_service_cannot_read(const std::filesystem::path& file);
// What lets the service read file: the package's key-file ownership and mode.
std::string service_read_remedy(const std::string& file);

// The directories the unit (with its drop-ins, as systemd merges them) leaves writable when it sets
// ProtectSystem=strict: StateDirectory=, LogsDirectory=, CacheDirectory=, RuntimeDirectory= and
// ReadWritePaths=. nullopt when there is no such unit or it leaves the file system writable.
std::optional<std::vector<std::filesystem::path>> sandbox_writable(const std::filesystem::path& unit,
                                                                   const std::filesystem::path& dropins);

}  // namespace easgate::doctor
