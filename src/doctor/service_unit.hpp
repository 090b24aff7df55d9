#pragma once

// easgate's systemd unit as systemd merges it with its drop-ins: whom it runs the service as, and
// what its sandbox lets the service see and write. The doctor, often run as root from a shell,
// judges files by these rather than by its own view.

#include <sys/types.h>

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace easgate::doctor {

struct ServiceAccount {
    std::string name = "easgate";  // as the messages name it
    uid_t uid = 0;
    std::vector<gid_t> groups;  // primary and supplementary
};

// Whether path is directory or lies under it, both taken as written (lexically).
bool within(const std::filesystem::path& path, std::filesystem::path directory);

class ServiceUnit {
public:
    // The unit and its drop-ins (*.conf in the dropins directories, lowest priority first; applied in
    // the order of their names). Without the unit, none: no sandbox, and the package's account.
    static ServiceUnit read(const std::filesystem::path& unit,
                            const std::vector<std::filesystem::path>& dropins);
    // The installed one: an admin's full replacement in /etc/systemd/system wins over the package's
    // in /lib/systemd/system, with the drop-ins of /lib, /run and /etc (`systemctl edit easgate`).
    static ServiceUnit installed();

    const std::filesystem::path& path() const { return path_; }

    // The directories it leaves writable when it sets ProtectSystem=strict: StateDirectory=,
    // LogsDirectory=, CacheDirectory=, RuntimeDirectory= and ReadWritePaths=. nullopt when it
    // leaves the file system writable.
    std::optional<std::vector<std::filesystem::path>> writable() const;

    // "" when the sandbox lets the service see path (and, past symbolic links, where it leads);
    // else why not: ProtectHome= hides /home, /root and /run/user, PrivateTmp= gives the service a
    // /tmp and /var/tmp of its own, InaccessiblePaths= hides what it names.
    std::string hides(const std::filesystem::path& path) const;

    // The account the service runs as (User=; without a unit, the package's easgate) with Group= and
    // SupplementaryGroups=; nullopt when no such user exists here, or the unit runs it as root.
    std::optional<ServiceAccount> account() const;

private:
    // The last word assigned to key; "" when none.
    std::string last(const std::string& key) const;

    std::filesystem::path path_;
    std::map<std::string, std::vector<std::string>> words_;  // each key's words, as assigned
};

}  // namespace easgate::doctor
