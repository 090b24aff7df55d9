#include "easgate/kerberos/kdc_order.hpp"

#include <fcntl.h>
#include <profile.h>
#include <spdlog/spdlog.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <optional>
#include <stdexcept>
#include <string_view>
#include <system_error>
#include <utility>

#include "easgate/common/replace_file.hpp"
#include "easgate/common/text.hpp"
#include "easgate/kerberos/keytab_login.hpp"

namespace easgate::kerberos {

namespace fs = std::filesystem;

namespace {

const KdcOrderFile* installed_file = nullptr;

constexpr std::string_view directory_prefix = "easgate-krb5.";

// Where easgate's directory may go, in turn: the unit's RuntimeDirectory (systemd removes it
// however the service stopped), $TMPDIR, /tmp.
std::vector<std::string> parent_directories() {
    std::vector<std::string> parents;
    for (const char* variable : {"RUNTIME_DIRECTORY", "TMPDIR"}) {
        const char* value = std::getenv(variable);
        if (value == nullptr || *value == '\0') continue;
        const std::string_view paths(value);
        parents.emplace_back(paths.substr(0, paths.find(':')));  // systemd separates several with colons
    }
    parents.emplace_back("/tmp");
    return parents;
}

// A running easgate holds a lock on its directory for as long as it runs (the kernel drops it
// however the process ends); -1 when the directory can't be opened or is locked already.
int lock_directory(const std::string& directory) {
    const int fd = ::open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) return -1;
    if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
        ::close(fd);
        return -1;
    }
    return fd;
}

// Removes what easgate processes killed with SIGKILL (or crashed) left in parent: directories of
// this user, named as easgate names them, that no running easgate holds. One made within the
// last minute is left alone: its maker locks it right after making it.
void remove_abandoned(const std::string& parent) {
    const auto now = std::time(nullptr);
    std::error_code error;
    for (fs::directory_iterator entry(parent, error), end; !error && entry != end; entry.increment(error)) {
        const fs::path& path = entry->path();
        struct stat status {};
        if (!path.filename().string().starts_with(directory_prefix) || ::lstat(path.c_str(), &status) != 0 ||
            !S_ISDIR(status.st_mode) || status.st_uid != ::geteuid())
            continue;
        if (now - status.st_mtime < 60) continue;
        const int fd = lock_directory(path.string());
        if (fd < 0) continue;
        std::error_code ignored;
        fs::remove_all(path, ignored);
        ::close(fd);
        if (!ignored)
            spdlog::debug("kerberos: removed {}, left by an easgate that did not exit", path.string());
    }
}

// The krb5 configuration in the files of path (colon-separated), or with "" the files krb5 itself
// reads (KRB5_CONFIG, else its default); null when none can be read. profile_release() frees it.
profile_t open_profile(const std::string& path) {
    profile_t profile = nullptr;
    if (!path.empty()) return profile_init_path(path.c_str(), &profile) == 0 ? profile : nullptr;
    const Krb5Context context;
    return context.get() != nullptr && krb5_get_profile(context.get(), &profile) == 0 ? profile : nullptr;
}

std::vector<std::string> kdcs_in(profile_t profile, const std::string& realm) {
    std::vector<std::string> list;
    const char* names[] = {"realms", realm.c_str(), "kdc", nullptr};
    char** values = nullptr;
    if (profile_get_values(profile, names, &values) == 0) {
        for (char** value = values; *value != nullptr; ++value) list.emplace_back(*value);
        profile_free_list(values);
    }
    return list;
}

// A value as krb5's profile parser reads a quoted string back.
std::string profile_quoted(std::string_view value) {
    std::string text = "\"";
    for (const char c : value) {
        if (c == '"' || c == '\\') text += '\\';
        text += c == '\n' ? std::string("\\n") : c == '\t' ? std::string("\\t") : std::string(1, c);
    }
    return text + "\"";
}

// Each name and value directly in the section names (a value of null: a subsection).
std::vector<std::pair<std::string, std::optional<std::string>>> section_entries(profile_t profile,
                                                                                const char* const* names) {
    std::vector<std::pair<std::string, std::optional<std::string>>> entries;
    void* iterator = nullptr;
    if (profile_iterator_create(profile, names, PROFILE_ITER_LIST_SECTION, &iterator) != 0) return entries;
    char* name = nullptr;
    char* value = nullptr;
    while (profile_iterator(&iterator, &name, &value) == 0 && name != nullptr) {
        entries.emplace_back(name, value != nullptr ? std::optional<std::string>(value) : std::nullopt);
        profile_release_string(name);
        if (value != nullptr) profile_release_string(value);
    }
    profile_iterator_free(&iterator);
    return entries;
}

// The realm's settings in the krb5.conf files of path, but its kdc lines; subsections one level deep
// (auth_to_local_names, say).
std::string realm_settings_but_kdcs(const std::string& realm, const std::string& path) {
    const profile_t profile = open_profile(path);
    if (profile == nullptr) return "";
    std::string text;
    const char* names[] = {"realms", realm.c_str(), nullptr, nullptr};
    for (const auto& [name, value] : section_entries(profile, names)) {
        if (value) {
            if (name != "kdc") text += "        " + name + " = " + profile_quoted(*value) + "\n";
            continue;
        }
        text += "        " + name + " = {\n";
        names[2] = name.c_str();
        for (const auto& [inner, inner_value] : section_entries(profile, names))
            if (inner_value) text += "            " + inner + " = " + profile_quoted(*inner_value) + "\n";
        names[2] = nullptr;
        text += "        }\n";
    }
    profile_release(profile);
    return text;
}

}  // namespace

KdcAddress parse_kdc(std::string entry) {
    KdcAddress kdc;
    if (entry.starts_with("http://") || entry.starts_with("https://")) {
        kdc.unsupported = "a KDC proxy (MS-KKDCP)";
        return kdc;
    }
    if (entry.starts_with("tcp/") || entry.starts_with("udp/")) entry.erase(0, 4);
    std::string port;
    if (entry.starts_with('[')) {
        const auto close = entry.find(']');
        kdc.host = entry.substr(1, close == std::string::npos ? std::string::npos : close - 1);
        if (close != std::string::npos && entry.size() > close + 1 && entry[close + 1] == ':')
            port = entry.substr(close + 2);
    } else if (const auto colon = entry.find(':'); colon != std::string::npos && entry.rfind(':') == colon) {
        kdc.host = entry.substr(0, colon);
        port = entry.substr(colon + 1);
    } else {
        kdc.host = entry;
    }
    if (!port.empty()) {
        // The leading 0 keeps stoul from throwing on what is not a number (judged first, below).
        const auto number = port.size() <= 5 ? std::stoul("0" + port) : 0;
        if (port.find_first_not_of("0123456789") != std::string::npos) {
            kdc.unsupported = "its port '" + port + "' is not a number";
        } else if (number == 0 || number > 65535) {
            kdc.unsupported = "its port " + port + " is out of range (1 to 65535)";
        } else {
            kdc.port = static_cast<std::uint16_t>(number);
        }
    }
    return kdc;
}

std::vector<std::string> realm_kdcs(const std::string& realm, const std::string& profile_path) {
    const profile_t profile = open_profile(profile_path);
    if (profile == nullptr) return {};
    auto list = kdcs_in(profile, realm);
    profile_release(profile);
    return list;
}

KdcOrderFile::KdcOrderFile(const std::string& admin_krb5_conf) : admin_(admin_krb5_conf) {
    const char* from_environment = std::getenv("KRB5_CONFIG");
    if (from_environment != nullptr) environment_was_ = from_environment;
    if (admin_.empty()) admin_ = environment_was_.value_or("/etc/krb5.conf");
    std::vector<std::string> refused;
    for (const auto& parent : parent_directories()) {
        remove_abandoned(parent);
        std::string pattern = parent + "/" + std::string(directory_prefix) + "XXXXXX";
        if (::mkdtemp(pattern.data()) != nullptr) {
            directory_ = pattern;
            break;
        }
        refused.push_back(parent + " (" + std::generic_category().message(errno) + ")");
    }
    if (directory_.empty())
        throw std::runtime_error("can't make a directory for the file that has krb5 ask a hung KDC last in " +
                                 common::join(refused));
    lock_fd_ = lock_directory(directory_);
    path_ = directory_ + "/kdc-order.conf";
    write("", {});
    setenv("KRB5_CONFIG", (path_ + ":" + admin_).c_str(), 1);
    installed_file = this;
}

KdcOrderFile::~KdcOrderFile() {
    if (installed_file == this) installed_file = nullptr;
    if (environment_was_)
        setenv("KRB5_CONFIG", environment_was_->c_str(), 1);
    else
        unsetenv("KRB5_CONFIG");
    std::error_code ignored;
    fs::remove_all(directory_, ignored);
    if (lock_fd_ >= 0) ::close(lock_fd_);
}

const KdcOrderFile* KdcOrderFile::installed() { return installed_file; }

void KdcOrderFile::write(const std::string& realm, const std::vector<std::string>& kdcs) const {
    std::string text = "# easgate: the order in which krb5 asks the KDCs, hung ones last (see its log)\n";
    if (!kdcs.empty()) {
        // The realm's section is final (krb5 1.20 honours the flag on sections only): krb5 then reads
        // nothing of this realm from the admin's file, so its other settings are copied here.
        text += "[realms]\n    " + realm + "* = {\n";
        for (const auto& kdc : kdcs) text += "        kdc = " + profile_quoted(kdc) + "\n";
        text += realm_settings_but_kdcs(realm, admin_);
        text += "    }\n";
    }
    if (const auto error = common::replace_file(path_, text))
        spdlog::warn("kerberos: can't write {} ({}): krb5 keeps asking the KDCs of {} in the order it had",
                     path_, error.message(), realm);
}

}  // namespace easgate::kerberos
