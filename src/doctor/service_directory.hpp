#pragma once

// Whether easgate, run as the package runs it, can read a file (keytab, TLS files) or make files in
// a directory (crl_refresh.cache_dir): judged for the service account, not for whoever runs the
// doctor (often root), and inside the unit's sandbox (service_unit.hpp).

#include <sys/stat.h>
#include <sys/types.h>

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "service_unit.hpp"

namespace easgate::doctor {

// "easgate:easgate 0700": a file's owner, group and permission bits as an admin reads them.
std::string owner_and_mode(const struct stat& file);

// "" when account (or, without one, this process) may make files in directory; else what stands in
// the way, e.g. "/var/cache is root:root 0755".
std::string why_unwritable(const std::filesystem::path& directory,
                           const std::optional<ServiceAccount>& account);

// "" when account (or, without one, this process) may read file, its directories included; else
// what stands in the way, e.g. "/etc/easgate/easgate.keytab is root:root 0600".
std::string why_unreadable(const std::filesystem::path& file, const std::optional<ServiceAccount>& account);

// What keeps the service, as unit runs it, from reading file, and what lets it. No reason when its
// sandbox shows it the file and, where the doctor can tell (run as root, the account present), its
// account may read it: root reads what the service may not.
struct ServiceRead {
    std::string why;  // empty: nothing the doctor knows of
    std::string remedy;
};
ServiceRead service_cannot_read(const std::filesystem::path& file, const ServiceUnit& unit);

}  // namespace easgate::doctor
