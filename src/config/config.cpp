#include "easgate/config/config.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <set>

#include "config_fields.hpp"

namespace easgate::config {
namespace {

using fields::Presence;

// A field whose value needs no check against its neighbours.
struct NoCheck {
    const char* operator()() const { return nullptr; }
};

// Visits the field lists (config_fields.hpp) to fill a configuration from YAML.
class Parser {
public:
    explicit Parser(Reader map) : map_(std::move(map)) {}

    template <class T, class Codec, class Check = NoCheck>
    void field(const char* key, T& value, const Codec& codec, Presence presence = Presence::optional,
               Check check = {}) {
        if (presence == Presence::required) {
            value = static_cast<T>(codec.read(map_.required(key)));
        } else if (const auto given = map_.child(key)) {
            value = static_cast<T>(codec.read(*given));
        }
        if (const char* problem = check()) {
            if (map_.child(key)) map_.fail_at(key, problem);
            YAML::Emitter shown;  // a default the admin never wrote: say which
            codec.write(shown, value);
            map_.fail_at(key, std::string(problem) + " (left out, it is " + shown.c_str() + ": set it)");
        }
    }

    template <class Section, class Fields>
    void section(const char* key, Section& section, const Fields& fields,
                 Presence presence = Presence::optional) {
        if (presence == Presence::required) {
            read(map_.required(key), section, fields);
        } else if (auto given = map_.child(key)) {
            read(std::move(*given), section, fields);
        }
    }

    template <class Section, class Fields>
    void optional_section(const char* key, std::optional<Section>& section, const Fields& fields) {
        // emplace(Section{}), not emplace(): clang 14 judges a nested struct with default member
        // initialisers not default-constructible (UpstreamConfig::HealthCheck).
        if (auto given = map_.child(key)) read(std::move(*given), section.emplace(Section{}), fields);
    }

    // at_least_one: what a missing or empty list is told; null when it may be left out.
    template <class Section, class Fields>
    void list(const char* key, std::vector<Section>& sections, const Fields& fields,
              const char* at_least_one) {
        if (at_least_one == nullptr && !map_.child(key)) return;
        for (auto& item : map_.required(key).items()) read(std::move(item), sections.emplace_back(), fields);
        if (sections.empty() && at_least_one != nullptr) map_.required(key).fail(at_least_one);
    }

    template <class Section, class Fields>
    static void read(Reader map, Section& section, const Fields& fields) {
        Parser parser(std::move(map));
        fields(parser, section);
        parser.map_.reject_unknown_or_repeated_keys();
    }

private:
    Reader map_;
};

bool has_terms(const PolicyRule& rule) {
    for (const auto* term :
         {&rule.users, &rule.groups, &rule.device_ids, &rule.device_types, &rule.user_agents, &rule.commands,
          &rule.protocol_versions, &rule.source_networks}) {
        if (!term->empty()) return true;
    }
    return false;
}

// Names are what the log and the metrics tell rules apart by; a rule without terms would hide the
// rules after it; groups are known only from the directory.
void check_policy(Reader& root, const Config& config) {
    if (!config.policy) return;
    if (config.policy->use_exchange_device_lists && !config.directory)
        root.required("policy")
            .required("use_exchange_device_lists")
            .fail("the users' device lists come from the directory: add the directory: section");
    if (config.policy->rules.empty() && !config.policy->use_exchange_device_lists)
        root.required("policy").fail(
            "policy.rules lists no rule and use_exchange_device_lists is off, so policy.default alone would "
            "decide every request: list a rule, turn on use_exchange_device_lists, or leave policy: out");
    std::set<std::string> names;
    const auto& rules = config.policy->rules;
    for (std::size_t i = 0; i < rules.size(); ++i) {
        auto item = root.required("policy").required("rules").items()[i];
        if (!names.insert(rules[i].name).second || rules[i].name == "default" ||
            rules[i].name == exchange_blocked_devices_rule || rules[i].name == exchange_allowed_devices_rule)
            item.required("name").fail(
                "\"" + rules[i].name +
                "\" names another rule or one easgate reserves (default, exchange_blocked_devices, "
                "exchange_allowed_devices): pick another name");
        if (!has_terms(rules[i]))
            item.fail("the rule lists no term, so it would match every request: set policy.default instead");
        if (!rules[i].groups.empty() && !config.directory)
            item.required("groups").fail(
                "group membership comes from the directory: add the directory: section");
    }
}

void check_cross_references(Reader& root, Config& config) {
    std::set<std::string> names;
    for (std::size_t i = 0; i < config.upstreams.size(); ++i) {
        if (!names.insert(config.upstreams[i].name).second) {
            root.required("upstreams")
                .items()[i]
                .required("name")
                .fail("duplicate upstream name \"" + config.upstreams[i].name + "\"");
        }
    }
    std::set<std::pair<std::string, std::uint16_t>> endpoints;
    for (std::size_t i = 0; i < config.listeners.size(); ++i) {
        const auto& listener = config.listeners[i];
        auto item = root.required("listeners").items()[i];
        if (!listener.upstream.empty() && !names.contains(listener.upstream)) {
            item.required("upstream").fail("no upstream is named \"" + listener.upstream + "\"");
        }
        if (listener.port != 0 && !endpoints.insert({listener.address, listener.port}).second) {
            item.fail("another listener already uses " + listener.address + ":" +
                      std::to_string(listener.port));
        }
    }
    if (config.directory && config.directory->bind == DirectoryBind::gssapi && !config.kerberos) {
        root.required("directory")
            .fail(
                "the GSSAPI bind (the default) uses easgate's keytab: add the kerberos: section, or bind: "
                "{method: simple}");
    }
    if (!config.kerberos) return;
    if (!config.directory) {
        root.required("kerberos")
            .fail(
                "delegation needs the directory: section, to impersonate each user by their canonical "
                "account name");
    }
    for (std::size_t i = 0; i < config.upstreams.size(); ++i) {
        if (config.upstreams[i].service_principal.empty()) {
            root.required("upstreams")
                .items()[i]
                .fail(
                    "service_principal is required with kerberos: it is the SPN Exchange holds, e.g. "
                    "HTTP/mail.corp.example.com");
        }
    }
}

}  // namespace

const UpstreamConfig& Config::upstream_for(const ListenerConfig& listener) const {
    if (listener.upstream.empty()) return upstreams.front();
    return *std::find_if(upstreams.begin(), upstreams.end(),
                         [&](const UpstreamConfig& u) { return u.name == listener.upstream; });
}

bool Config::maps_nameless_certificates() const {
    return directory && std::ranges::any_of(identity.mapping, [](CertificateMapping mapping) {
               return mapping == CertificateMapping::sid ||
                      mapping == CertificateMapping::alt_security_identities;
           });
}

Config load_config(const std::filesystem::path& path) {
    YAML::Node document;
    try {
        document = YAML::LoadFile(path.string());
    } catch (const YAML::BadFile&) {
        throw ConfigError(path.string() + ": cannot read the file: " + std::strerror(errno));
    } catch (const YAML::ParserException& e) {
        throw ConfigError(path.string() + ": YAML syntax error at line " + std::to_string(e.mark.line + 1) +
                          ", column " + std::to_string(e.mark.column + 1) + ": " + e.msg);
    }
    if (!document.IsMap()) throw ConfigError(path.string() + ": expected a mapping of keys at the top level");

    Config config;
    try {
        Parser::read(Reader(document, ""), config, fields::config);
        Reader root(document, "");
        check_cross_references(root, config);
        check_policy(root, config);
    } catch (const YAML::Exception& e) {  // a shape no check foresaw: a config error, never a crash
        throw ConfigError(path.string() + ": " + e.what());
    }
    return config;
}

}  // namespace easgate::config
