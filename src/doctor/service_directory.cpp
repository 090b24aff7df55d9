#include "service_directory.hpp"

#include <grp.h>
#include <pwd.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>

namespace easgate::doctor {

namespace fs = std::filesystem;

std::string owner_and_mode(const struct stat& file) {
    const passwd* user = getpwuid(file.st_uid);
    const group* group = getgrgid(file.st_gid);
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(file.st_mode & 07777));
    return (user != nullptr ? std::string(user->pw_name) : std::to_string(file.st_uid)) + ":" +
           (group != nullptr ? std::string(group->gr_name) : std::to_string(file.st_gid)) + " " + mode;
}

std::optional<ServiceAccount> service_account() {
    const passwd* user = getpwnam("easgate");
    if (user == nullptr) return std::nullopt;
    ServiceAccount account{.uid = user->pw_uid, .groups = {}};
    int count = 16;
    account.groups.resize(static_cast<std::size_t>(count));
    if (getgrouplist(user->pw_name, user->pw_gid, account.groups.data(), &count) < 0) {
        account.groups.resize(static_cast<std::size_t>(count));
        getgrouplist(user->pw_name, user->pw_gid, account.groups.data(), &count);
    }
    account.groups.resize(static_cast<std::size_t>(std::max(count, 0)));
    return account;
}

namespace {

// Whether the kernel grants account `wanted` (as R_OK, W_OK, X_OK bits) on file: the owner's bits
// apply to it, else the group's, else everyone's.
bool grants(const struct stat& file, const ServiceAccount& account, int wanted) {
    int shift = 0;  // everyone's
    if (file.st_uid == account.uid)
        shift = 6;
    else if (std::ranges::find(account.groups, file.st_gid) != account.groups.end())
        shift = 3;
    const auto bits = static_cast<int>(file.st_mode >> shift) & 07;
    return (bits & wanted) == wanted;
}

// "" when account (or this process) has `wanted` on path, else "<path>: <why>" or "<path> is <owner and
// mode>".
std::string why_not(const fs::path& path, const std::optional<ServiceAccount>& account, int wanted,
                    struct stat& file) {
    if (stat(path.c_str(), &file) != 0) return path.string() + ": " + std::strerror(errno);
    const bool granted = account ? grants(file, *account, wanted) : access(path.c_str(), wanted) == 0;
    return granted ? "" : path.string() + " is " + owner_and_mode(file);
}

}  // namespace

std::string why_unwritable(const fs::path& directory, const std::optional<ServiceAccount>& account) {
    struct stat file {};
    if (stat(directory.c_str(), &file) == 0 && !S_ISDIR(file.st_mode))
        return directory.string() + " is not a directory";
    return why_not(directory, account, W_OK | X_OK, file);
}

std::string why_unreadable(const fs::path& file, const std::optional<ServiceAccount>& account) {
    struct stat found {};
    std::error_code ignored;
    // The directories of the path as written and, past a symbolic link (a certificate renewed by
    // certbot links into its archive), of where it leads: each must let the account through.
    for (const auto& path : {fs::absolute(file), fs::weakly_canonical(file, ignored)}) {
        for (auto up = path.parent_path(); !up.empty(); up = up.parent_path()) {
            // An access control list may grant what the bits deny: that one is not judged by them.
            const bool listed = ::getxattr(up.c_str(), "system.posix_acl_access", nullptr, 0) > 0;
            if (auto why = listed ? "" : why_not(up, account, X_OK, found); !why.empty()) return why;
            if (up == up.root_path()) break;
        }
    }
    if (::getxattr(file.c_str(), "system.posix_acl_access", nullptr, 0) > 0) return "";
    return why_not(fs::absolute(file), account, R_OK, found);
}

std::string why_the_service_cannot_read(const fs::path& file) {
    const auto account = service_account();
    if (!account || geteuid() != 0) return "";
    return why_unreadable(file, account);
}

std::string service_read_remedy(const std::string& file) {
    return "chown root:easgate " + file + " && chmod 0640 " + file +
           ", and let the group easgate through its directories (/etc/easgate is root:easgate 0750)";
}

std::optional<std::vector<fs::path>> sandbox_writable(const fs::path& unit, const fs::path& dropins) {
    std::error_code error;
    if (!fs::is_regular_file(unit, error)) return std::nullopt;
    std::vector<fs::path> files;
    for (fs::directory_iterator file(dropins, error), end; !error && file != end; file.increment(error))
        if (file->path().extension() == ".conf") files.push_back(file->path());
    std::ranges::sort(files);  // systemd applies drop-ins in the order of their names
    files.insert(files.begin(), unit);

    // Where each kind of the unit's own directories lives; ReadWritePaths= names absolute paths.
    const std::map<std::string, std::string> roots = {{"StateDirectory", "/var/lib/"},
                                                      {"LogsDirectory", "/var/log/"},
                                                      {"CacheDirectory", "/var/cache/"},
                                                      {"RuntimeDirectory", "/run/"},
                                                      {"ReadWritePaths", ""}};
    std::map<std::string, std::vector<fs::path>> lists;
    std::string protect;
    for (const auto& path : files) {
        std::ifstream in(path);
        for (std::string line; std::getline(in, line);) {
            const auto equals = line.find('=');
            if (equals == std::string::npos || equals == 0 || line.starts_with('#') || line.starts_with(';'))
                continue;
            const std::string key = line.substr(0, line.find_last_not_of(" \t", equals - 1) + 1);
            std::string value = line.substr(equals + 1);
            value.erase(0, value.find_first_not_of(" \t"));
            value.erase(value.find_last_not_of(" \t") + 1);
            if (key == "ProtectSystem") protect = value;
            const auto root = roots.find(key);
            if (root == roots.end()) continue;
            if (value.empty()) lists[key].clear();  // an empty assignment resets the list
            std::istringstream words(value);
            for (std::string word; words >> word;) {
                // "-/path" and "+/path": optional and unconfined paths, writable alike.
                word.erase(0, word.find_first_not_of("-+"));
                lists[key].push_back(root->second + word);
            }
        }
    }
    if (protect != "strict") return std::nullopt;
    std::vector<fs::path> writable;
    for (const auto& [key, paths] : lists) writable.insert(writable.end(), paths.begin(), paths.end());
    return writable;
}

}  // namespace easgate::doctor
