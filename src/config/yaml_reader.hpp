#pragma once

#include <yaml-cpp/yaml.h>

#include <array>
#include <chrono>
#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace easgate::config {

// A YAML node with its dotted path, so every error names the key and line the operator wrote.
class Reader {
public:
    Reader(YAML::Node node, std::string path) : node_(std::move(node)), path_(std::move(path)) {}

    // Throws ConfigError: "<path>: <message> (line N)".
    [[noreturn]] void fail(const std::string& message) const;

    // A mapping's child, remembered as known; nullopt when absent or null.
    std::optional<Reader> child(const std::string& key);
    Reader required(const std::string& key);
    // Fails naming key, present or not (a default that conflicts with a neighbour's value).
    [[noreturn]] void fail_at(const std::string& key, const std::string& message) const;

    // Unknown keys are typos that would otherwise silently fall back to defaults; of a key written
    // twice (a setting added at the end of a section that already had it) YAML readers keep one,
    // and which one is not what the admin can tell.
    void reject_unknown_or_repeated_keys() const;

    std::vector<Reader> items() const;

    std::string as_string() const;
    bool as_bool() const;
    std::uint64_t as_size() const;
    std::chrono::milliseconds as_duration() const;
    unsigned as_unsigned(unsigned max) const;
    // A DNS name as devices type it: letters, digits, '-' and '.', optionally with a :port.
    std::string as_host_name() const;
    // A file the daemon must be able to open at start, so a typo fails now and not on a request.
    std::string as_readable_file() const;

    // Which of the choices the value is (its index); anything else fails, listing them.
    template <std::size_t N>
    std::size_t as_one_of(const std::array<const char*, N>& choices) const {
        const auto text = as_string();
        for (std::size_t i = 0; i < N; ++i) {
            if (text == choices[i]) return i;
        }
        std::string list;
        for (const char* choice : choices) list += (list.empty() ? "" : " | ") + std::string(choice);
        fail("expected one of " + list + ", got \"" + text + "\"");
    }

private:
    void expect_map() const;
    std::string child_path(const std::string& key) const { return path_.empty() ? key : path_ + "." + key; }

    YAML::Node node_;
    std::string path_;
    std::set<std::string> known_;
};

}  // namespace easgate::config
