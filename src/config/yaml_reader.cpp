#include "yaml_reader.hpp"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <map>

#include "easgate/config/config.hpp"
#include "easgate/config/units.hpp"

namespace easgate::config {

void Reader::fail(const std::string& message) const {
    std::string text = path_ + ": " + message;
    if (const auto line = node_.Mark().line; line >= 0) text += " (line " + std::to_string(line + 1) + ")";
    throw ConfigError(text);
}

std::optional<Reader> Reader::child(const std::string& key) {
    expect_map();
    known_.insert(key);
    const YAML::Node value = node_[key];
    if (!value || value.IsNull()) return std::nullopt;
    return Reader(value, child_path(key));
}

Reader Reader::required(const std::string& key) {
    auto value = child(key);
    if (!value) fail_at(key, "required key is missing");
    return *value;
}

void Reader::fail_at(const std::string& key, const std::string& message) const {
    const YAML::Node value = node_[key];
    Reader(value && !value.IsNull() ? value : node_, child_path(key)).fail(message);
}

void Reader::reject_unknown_or_repeated_keys() const {
    std::map<std::string, int> lines;  // of the keys seen, for the message
    for (const auto& entry : node_) {
        if (!entry.first.IsScalar()) Reader(entry.first, path_).fail("a key must be a single word");
        const auto key = entry.first.as<std::string>();
        const Reader at(entry.first, child_path(key));
        if (!known_.contains(key)) at.fail("unknown key");
        const auto [first, fresh] = lines.emplace(key, entry.first.Mark().line + 1);
        if (!fresh)
            at.fail("written twice (first on line " + std::to_string(first->second) +
                    "): only the first would count; keep one");
    }
}

std::vector<Reader> Reader::items() const {
    if (!node_.IsSequence()) fail("expected a list");
    std::vector<Reader> result;
    for (std::size_t i = 0; i < node_.size(); ++i) {
        result.emplace_back(node_[i], path_ + "[" + std::to_string(i) + "]");
    }
    return result;
}

std::string Reader::as_string() const {
    if (!node_.IsScalar()) fail("expected a single value");
    return node_.Scalar();
}

bool Reader::as_bool() const {
    const auto text = as_string();
    if (text == "true") return true;
    if (text == "false") return false;
    fail("expected true or false, got \"" + text + "\"");
}

std::uint64_t Reader::as_size() const {
    const auto text = as_string();
    const auto value = parse_size(text);
    if (!value) fail("expected a size such as 512KiB, 10MiB or 1GiB, got \"" + text + "\"");
    return *value;
}

std::chrono::milliseconds Reader::as_duration() const {
    const auto text = as_string();
    const auto value = parse_duration(text);
    if (!value || value->count() == 0) {
        fail("expected a duration above zero such as 500ms, 15s, 5m or 1h, got \"" + text + "\"");
    }
    return *value;
}

unsigned Reader::as_unsigned(unsigned max) const {
    const auto text = as_string();
    unsigned value = 0;
    try {
        value = node_.as<unsigned>();
    } catch (const YAML::Exception&) {
        fail("expected a whole number, got \"" + text + "\"");
    }
    if (value > max) fail("must be at most " + std::to_string(max) + ", got " + text);
    return value;
}

std::string Reader::as_host_name() const {
    const auto text = as_string();
    const bool valid =
        !text.empty() && text.front() != '.' && text.front() != '-' &&
        text.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-.:") ==
            std::string::npos;
    if (!valid) fail("expected a host name such as mail.example.com, got \"" + text + "\"");
    return text;
}

std::string Reader::as_readable_file() const {
    const auto path = as_string();
    std::ifstream file(path);
    if (!file) fail("cannot read " + path + ": " + std::strerror(errno));
    return path;
}

void Reader::expect_map() const {
    if (!node_.IsMap()) fail("expected a mapping of keys");
}

}  // namespace easgate::config
