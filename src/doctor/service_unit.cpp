#include "service_unit.hpp"

#include <grp.h>
#include <pwd.h>

#include <algorithm>
#include <array>
#include <cstdlib>
#include <fstream>

#include "easgate/common/text.hpp"

namespace easgate::doctor {

namespace fs = std::filesystem;

namespace {

// systemd's booleans, in any case.
bool is_true(const std::string& value) {
    return std::ranges::any_of(std::array<const char*, 6>{"1", "yes", "y", "true", "t", "on"},
                               [&](const char* word) { return common::equals_ignoring_case(value, word); });
}

// A group given by name or number; nullopt when there is no such group.
std::optional<gid_t> group_id(const std::string& name) {
    if (const group* found = getgrnam(name.c_str())) return found->gr_gid;
    char* end = nullptr;
    const auto number = std::strtoul(name.c_str(), &end, 10);
    if (!name.empty() && *end == '\0') return static_cast<gid_t>(number);
    return std::nullopt;
}

// "-/path" and "+/path": optional and unconfined paths, which count alike here.
std::string without_prefix(std::string word) {
    word.erase(0, word.find_first_not_of("-+"));
    return word;
}

// A value's words as systemd splits them: at white space, a word in double or single quotes kept
// whole (a path with a space), the quotes dropped.
std::vector<std::string> words_of(const std::string& value) {
    std::vector<std::string> words;
    std::size_t at = 0;
    while ((at = value.find_first_not_of(" \t", at)) != std::string::npos) {
        const char quote = value[at];
        if (quote == '"' || quote == '\'') {
            const auto close = value.find(quote, at + 1);
            words.push_back(value.substr(at + 1, close == std::string::npos ? close : close - at - 1));
            at = close == std::string::npos ? close : close + 1;
            continue;
        }
        const auto end = value.find_first_of(" \t", at);
        words.push_back(value.substr(at, end == std::string::npos ? end : end - at));
        at = end;
    }
    return words;
}

// The file's assignments, each on one line: a line ending in a backslash goes on in the next.
std::vector<std::string> logical_lines(std::istream& in) {
    std::vector<std::string> lines;
    std::string joined;
    for (std::string line; std::getline(in, line);) {
        if (line.ends_with('\\') && !line.starts_with('#') && !line.starts_with(';')) {
            joined += line.substr(0, line.size() - 1) + " ";
            continue;
        }
        lines.push_back(joined + line);
        joined.clear();
    }
    if (!joined.empty()) lines.push_back(joined);
    return lines;
}

}  // namespace

bool within(const fs::path& path, fs::path directory) {
    directory = directory.lexically_normal();
    if (!directory.has_filename()) directory = directory.parent_path();  // "/var/lib/easgate/"
    const auto normal = path.lexically_normal();
    return std::mismatch(directory.begin(), directory.end(), normal.begin(), normal.end()).first ==
           directory.end();
}

ServiceUnit ServiceUnit::read(const fs::path& unit, const std::vector<fs::path>& dropins) {
    std::error_code error;
    if (!fs::is_regular_file(unit, error)) return {};
    // By name: a drop-in of a later directory replaces one of the same name in an earlier one.
    std::map<fs::path, fs::path> by_name;
    for (const auto& directory : dropins) {
        for (fs::directory_iterator file(directory, error), end; !error && file != end; file.increment(error))
            if (file->path().extension() == ".conf") by_name[file->path().filename()] = file->path();
        error.clear();
    }
    std::vector<fs::path> files{unit};  // then the drop-ins in the order of their names, as systemd
    for (const auto& [name, path] : by_name) files.push_back(path);

    ServiceUnit merged;
    merged.path_ = unit;
    for (const auto& path : files) {
        std::ifstream in(path);
        for (const auto& line : logical_lines(in)) {
            const auto equals = line.find('=');
            if (equals == std::string::npos || equals == 0 || line.starts_with('#') || line.starts_with(';'))
                continue;
            std::string key = line.substr(0, line.find_last_not_of(" \t", equals - 1) + 1);
            key.erase(0, key.find_first_not_of(" \t"));
            auto& words = merged.words_[key];
            const auto assigned = words_of(line.substr(equals + 1));
            if (assigned.empty()) words.clear();  // an empty assignment resets the key
            words.insert(words.end(), assigned.begin(), assigned.end());
        }
    }
    return merged;
}

ServiceUnit ServiceUnit::installed() {
    std::error_code error;
    const fs::path local = "/etc/systemd/system/easgate.service";
    return read(fs::is_regular_file(local, error) ? local : fs::path("/lib/systemd/system/easgate.service"),
                {"/lib/systemd/system/easgate.service.d", "/run/systemd/system/easgate.service.d",
                 "/etc/systemd/system/easgate.service.d"});
}

std::string ServiceUnit::last(const std::string& key) const {
    const auto found = words_.find(key);
    return found == words_.end() || found->second.empty() ? "" : found->second.back();
}

std::optional<std::vector<fs::path>> ServiceUnit::writable() const {
    // DynamicUser= implies ProtectSystem=strict (systemd.exec(5)).
    if (last("ProtectSystem") != "strict" && !is_true(last("DynamicUser"))) return std::nullopt;
    // Where each kind of the unit's own directories lives; ReadWritePaths= names absolute paths.
    const std::map<std::string, std::string> roots = {{"StateDirectory", "/var/lib/"},
                                                      {"LogsDirectory", "/var/log/"},
                                                      {"CacheDirectory", "/var/cache/"},
                                                      {"RuntimeDirectory", "/run/"},
                                                      {"ReadWritePaths", ""}};
    std::vector<fs::path> paths;
    for (const auto& [key, root] : roots) {
        const auto words = words_.find(key);
        if (words == words_.end()) continue;
        for (const auto& word : words->second) paths.push_back(root + without_prefix(word));
    }
    return paths;
}

std::string ServiceUnit::hides(const fs::path& path) const {
    const std::string home = last("ProtectHome");
    const bool home_hidden = is_true(home) || home == "tmpfs";  // read-only still lets it read
    const std::string tmp = last("PrivateTmp");
    const bool implied_tmp = tmp.empty() && is_true(last("DynamicUser"));  // systemd.exec(5)
    const bool private_tmp = is_true(tmp) || tmp == "disconnected" || implied_tmp;
    const std::string tmp_setting = implied_tmp ? "yes, which DynamicUser=yes implies" : tmp;
    std::vector<fs::path> inaccessible;
    if (const auto words = words_.find("InaccessiblePaths"); words != words_.end())
        for (const auto& word : words->second) inaccessible.emplace_back(without_prefix(word));
    std::error_code ignored;
    for (const auto& way : {fs::absolute(path), fs::weakly_canonical(path, ignored)}) {
        const std::string in_unit = ", which " + path_.string();
        if (home_hidden)
            for (const char* root : {"/home", "/root", "/run/user"})
                if (within(way, root))
                    return way.string() + " is under " + root + in_unit +
                           " hides from the service (ProtectHome=" + home + ")";
        if (private_tmp)
            for (const char* root : {"/tmp", "/var/tmp"})
                if (within(way, root))
                    return way.string() + " is under " + root + in_unit +
                           " replaces with an empty one of the service's own (PrivateTmp=" + tmp_setting +
                           ")";
        for (const auto& root : inaccessible)
            if (within(way, root))
                return way.string() + " is under " + root.string() + in_unit +
                       " hides from the service (InaccessiblePaths=)";
    }
    return "";
}

std::optional<ServiceAccount> ServiceUnit::account() const {
    std::string name = last("User");
    if (name.empty() && !path_.empty()) return std::nullopt;  // root: judged by no file's bits here
    if (name.empty()) name = "easgate";                       // no unit: the package's account
    const passwd* user = getpwnam(name.c_str());
    if (user == nullptr) return std::nullopt;
    gid_t primary = user->pw_gid;
    if (const auto group = group_id(last("Group"))) primary = *group;
    ServiceAccount account{.name = name, .uid = user->pw_uid, .groups = {}};
    int count = 16;
    account.groups.resize(static_cast<std::size_t>(count));
    if (getgrouplist(user->pw_name, primary, account.groups.data(), &count) < 0) {
        account.groups.resize(static_cast<std::size_t>(count));
        getgrouplist(user->pw_name, primary, account.groups.data(), &count);
    }
    account.groups.resize(static_cast<std::size_t>(std::max(count, 0)));
    if (const auto words = words_.find("SupplementaryGroups"); words != words_.end())
        for (const auto& word : words->second)
            if (const auto group = group_id(word)) account.groups.push_back(*group);
    return account;
}

}  // namespace easgate::doctor
