#include "service_directory.hpp"

#include <grp.h>
#include <pwd.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>

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

ServiceRead service_cannot_read(const fs::path& file, const ServiceUnit& unit) {
    if (auto why = unit.hides(file); !why.empty())
        return {
            std::move(why),
            "move it under /etc/easgate (chown root:easgate, chmod 0640), which the service reads, and give "
            "that path in the configuration"};
    const auto account = unit.account();
    if (!account || geteuid() != 0) return {};
    auto why = why_unreadable(file, account);
    if (why.empty()) return {};
    return {std::move(why), "chown root:easgate " + file.string() + " && chmod 0640 " + file.string() +
                                ", and let the group easgate through its directories (/etc/easgate is "
                                "root:easgate 0750)"};
}

}  // namespace easgate::doctor
