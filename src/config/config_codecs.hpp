#pragma once

// How each kind of configuration value is read from YAML (with its checks) and written back for
// to_yaml. A codec's read() fails through the Reader, so errors name the key and line.

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "easgate/common/ip_network.hpp"
#include "easgate/common/listen_socket.hpp"
#include "easgate/common/text_pattern.hpp"
#include "easgate/config/config.hpp"
#include "easgate/config/units.hpp"
#include "yaml_reader.hpp"

namespace easgate::config::codec {

struct Text {
    std::string read(const Reader& r) const { return r.as_string(); }
    void write(YAML::Emitter& out, const std::string& value) const { out << value; }
};

struct ReadableFile : Text {
    std::string read(const Reader& r) const { return r.as_readable_file(); }
};

// A file easgate writes (opened at start, as the service's user): named from the root, since a
// service's working directory is nobody's choice.
struct AbsolutePath : Text {
    std::string read(const Reader& r) const {
        auto path = r.as_string();
        if (!path.starts_with('/')) r.fail("expected an absolute path, got \"" + path + "\"");
        return path;
    }
};

struct HostName : Text {
    std::string read(const Reader& r) const { return r.as_host_name(); }
};

struct Flag {
    bool read(const Reader& r) const { return r.as_bool(); }
    void write(YAML::Emitter& out, bool value) const { out << value; }
};

// A byte count, optionally bounded; the bounds are named in KiB/MiB like the values themselves.
struct Size {
    std::uint64_t min = 0;
    std::uint64_t max = 0;  // 0: unbounded
    std::uint64_t read(const Reader& r) const {
        const auto value = r.as_size();
        if (max != 0 && (value < min || value > max))
            r.fail("must be between " + format_size(min) + " and " + format_size(max));
        if (value < min) r.fail("must be at least " + format_size(min));
        return value;
    }
    void write(YAML::Emitter& out, std::uint64_t value) const { out << format_size(value); }
};

struct Duration {
    milliseconds read(const Reader& r) const { return r.as_duration(); }
    void write(YAML::Emitter& out, milliseconds value) const { out << format_duration(value); }
};

// A duration where 0 turns what it delays off; a bare 0 needs no unit.
struct DurationOrZero : Duration {
    milliseconds read(const Reader& r) const {
        const auto text = r.as_string();
        const auto value = text == "0" ? milliseconds(0) : parse_duration(text);
        if (!value) r.fail("expected a duration such as 0s, 500ms, 15s or 5m, got \"" + text + "\"");
        return *value;
    }
};

struct Whole {
    unsigned min = 0;
    unsigned max = 0;
    unsigned read(const Reader& r) const {
        const auto value = r.as_unsigned(max);
        if (value < min) r.fail("must be at least " + std::to_string(min));
        return value;
    }
    template <class Number>
    void write(YAML::Emitter& out, Number value) const {
        out << value;
    }
};

// A word from a fixed list, kept as text. Quoted when YAML would otherwise read it as a number.
template <std::size_t N>
struct Word {
    std::array<const char*, N> choices;
    bool quoted = false;
    std::string read(const Reader& r) const { return choices[r.as_one_of(choices)]; }
    void write(YAML::Emitter& out, const std::string& value) const {
        if (quoted) out << YAML::DoubleQuoted;
        out << value;
    }
};

// A word from a fixed list, stored as the enum value it names.
template <class Enum, std::size_t N>
struct Choice {
    std::array<std::pair<const char*, Enum>, N> choices{};
    Enum read(const Reader& r) const {
        std::array<const char*, N> names;
        for (std::size_t i = 0; i < N; ++i) names[i] = choices[i].first;
        return choices[r.as_one_of(names)].second;
    }
    void write(YAML::Emitter& out, Enum value) const {
        for (const auto& [name, choice] : choices) {
            if (choice == value) out << name;
        }
    }
};

// one_of<Mode>({{"a", Mode::a}, {"b", Mode::b}}): the words a key accepts and the values they name.
template <class Enum, std::size_t N>
constexpr Choice<Enum, N> one_of(const std::pair<const char*, Enum> (&choices)[N]) {
    Choice<Enum, N> choice;
    std::copy(std::begin(choices), std::end(choices), choice.choices.begin());
    return choice;
}

struct ServerUrl {
    UpstreamTarget read(const Reader& r) const {
        const auto url = r.as_string();
        auto target = parse_upstream_url(url);
        if (!target) r.fail("expected https://host[:port] or http://host[:port], got \"" + url + "\"");
        return std::move(*target);
    }
    void write(YAML::Emitter& out, const UpstreamTarget& target) const { out << target.url; }
};

struct LdapUri : Text {
    std::string read(const Reader& r) const {
        auto text = r.as_string();
        if (!text.starts_with("ldap://") && !text.starts_with("ldaps://"))
            r.fail("expected ldaps://host[:port] or ldap://host[:port], got \"" + text + "\"");
        return text;
    }
};

struct PathPrefix : Text {
    std::string read(const Reader& r) const {
        auto prefix = r.as_string();
        if (!prefix.starts_with('/') || prefix.find_first_of("?# \t") != std::string::npos)
            r.fail("expected a path prefix such as /EWS/, got \"" + prefix + "\"");
        return prefix;
    }
};

struct HealthCheckPath : Text {
    std::string read(const Reader& r) const {
        auto path = r.as_string();
        if (!path.starts_with('/')) r.fail("expected a path such as " + UpstreamConfig::HealthCheck{}.path);
        return path;
    }
};

struct ListenAddress : Text {
    std::string read(const Reader& r) const {
        auto text = r.as_string();
        if (!common::parse_listen_address(text))
            r.fail("expected IP address:port (127.0.0.1:9443, [::1]:9443), got \"" + text + "\"");
        return text;
    }
};

struct Principal : Text {
    std::string read(const Reader& r) const {
        auto principal = r.as_string();
        const auto at = principal.rfind('@');
        if (at == std::string::npos || at == 0 || at + 1 == principal.size())
            r.fail("expected NAME@REALM, e.g. EASGATE$@CORP.EXAMPLE.COM, got \"" + principal + "\"");
        return principal;
    }
};

// An LDAP distinguished name: a group's name alone would match nothing and refuse everyone.
struct DistinguishedName : Text {
    std::string read(const Reader& r) const {
        auto dn = r.as_string();
        if (dn.find('=') == std::string::npos || dn.find(',') == std::string::npos)
            r.fail(
                "expected the group's distinguished name, e.g. "
                "CN=eas-users,OU=Groups,DC=corp,DC=example,DC=com, "
                "got \"" +
                dn + "\"");
        return dn;
    }
};

// A policy rule's name: it goes into log lines and metrics labels unquoted and unescaped.
struct RuleName : Text {
    std::string read(const Reader& r) const {
        auto name = r.as_string();
        if (name.empty() || name.size() > 64 || !std::ranges::all_of(name, [](char c) {
                return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                       c == '-' || c == '_' || c == '.';
            }))
            r.fail("expected up to 64 letters, digits, '-', '_' or '.', got \"" + name + "\"");
        return name;
    }
};

struct Network : Text {
    std::string read(const Reader& r) const {
        auto text = r.as_string();
        if (!common::IpNetwork::parse(text))
            r.fail(
                "expected an address or a network such as 10.0.0.0/8 or 2001:db8::/32 (no host bits "
                "below the prefix), got \"" +
                text + "\"");
        return text;
    }
};

struct Pattern : Text {
    std::string read(const Reader& r) const {
        auto text = r.as_string();
        try {
            common::TextPattern{text};
        } catch (const std::invalid_argument& e) {
            r.fail("not a valid regular expression: " + std::string(e.what()));
        }
        return text;
    }
};

// A list of one kind of value; `at_least_one`, when set, is the error for an empty list.
template <class Item>
struct ListOf {
    Item item{};
    bool flow = false;
    const char* at_least_one = nullptr;
    auto read(const Reader& r) const {
        std::vector<decltype(item.read(r))> values;
        for (const auto& entry : r.items()) values.push_back(item.read(entry));
        if (values.empty() && at_least_one) r.fail(at_least_one);
        return values;
    }
    template <class Value>
    void write(YAML::Emitter& out, const std::vector<Value>& values) const {
        if (flow) out << YAML::Flow;
        out << YAML::BeginSeq;
        for (const auto& value : values) item.write(out, value);
        out << YAML::EndSeq;
    }
};

}  // namespace easgate::config::codec
