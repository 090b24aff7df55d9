#include "easgate/config/config.hpp"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <functional>
#include <optional>
#include <set>

#include "easgate/common/listen_socket.hpp"
#include "easgate/config/units.hpp"

namespace easgate::config {
namespace {

// A YAML node with its dotted path, so every error names the key and line the operator wrote.
class Reader {
public:
    Reader(YAML::Node node, std::string path) : node_(std::move(node)), path_(std::move(path)) {}

    [[noreturn]] void fail(const std::string& message) const {
        std::string text = path_ + ": " + message;
        if (const auto line = node_.Mark().line; line >= 0)
            text += " (line " + std::to_string(line + 1) + ")";
        throw ConfigError(text);
    }

    // A mapping's child, remembered as known; nullopt when absent or null.
    std::optional<Reader> child(const std::string& key) {
        expect_map();
        known_.insert(key);
        const YAML::Node value = node_[key];
        if (!value || value.IsNull()) return std::nullopt;
        return Reader(value, path_.empty() ? key : path_ + "." + key);
    }

    Reader required(const std::string& key) {
        auto value = child(key);
        if (!value) Reader(node_, path_.empty() ? key : path_ + "." + key).fail("required key is missing");
        return *value;
    }

    // Unknown keys are typos that would otherwise silently fall back to defaults.
    void reject_unknown_keys() const {
        for (const auto& entry : node_) {
            const auto key = entry.first.as<std::string>();
            if (!known_.contains(key)) {
                Reader(entry.first, path_.empty() ? key : path_ + "." + key).fail("unknown key");
            }
        }
    }

    std::vector<Reader> items() const {
        if (!node_.IsSequence()) fail("expected a list");
        std::vector<Reader> result;
        for (std::size_t i = 0; i < node_.size(); ++i) {
            result.emplace_back(node_[i], path_ + "[" + std::to_string(i) + "]");
        }
        return result;
    }

    std::string as_string() const {
        if (!node_.IsScalar()) fail("expected a single value");
        return node_.Scalar();
    }

    bool as_bool() const {
        const auto text = as_string();
        if (text == "true") return true;
        if (text == "false") return false;
        fail("expected true or false, got \"" + text + "\"");
    }

    std::uint64_t as_size() const {
        const auto text = as_string();
        const auto value = parse_size(text);
        if (!value) fail("expected a size such as 512KiB, 10MiB or 1GiB, got \"" + text + "\"");
        return *value;
    }

    milliseconds as_duration() const {
        const auto text = as_string();
        const auto value = parse_duration(text);
        if (!value || value->count() == 0) {
            fail("expected a duration above zero such as 500ms, 15s, 5m or 1h, got \"" + text + "\"");
        }
        return *value;
    }

    unsigned as_unsigned(unsigned max) const {
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

    // How many operations may be in flight: 1 to 64.
    unsigned as_concurrency() const {
        const auto value = as_unsigned(64);
        if (value == 0) fail("must be at least 1");
        return value;
    }

    std::uint16_t as_port() const {
        const auto port = as_unsigned(65535);
        if (port == 0) fail("a port must be between 1 and 65535");
        return static_cast<std::uint16_t>(port);
    }

    // A port to listen on: 0 lets the kernel pick a free one, which the log then names (tests).
    std::uint16_t as_listen_port() const { return static_cast<std::uint16_t>(as_unsigned(65535)); }

    template <std::size_t N>
    std::string as_one_of(const std::array<const char*, N>& choices) const {
        const auto text = as_string();
        for (const char* choice : choices) {
            if (text == choice) return text;
        }
        std::string list;
        for (const char* choice : choices) list += (list.empty() ? "" : " | ") + std::string(choice);
        fail("expected one of " + list + ", got \"" + text + "\"");
    }

    // A DNS name as devices type it: letters, digits, '-' and '.', optionally with a :port.
    std::string as_host_name() const {
        const auto text = as_string();
        const bool valid =
            !text.empty() && text.front() != '.' && text.front() != '-' &&
            text.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-.:") ==
                std::string::npos;
        if (!valid) fail("expected a host name such as mail.example.com, got \"" + text + "\"");
        return text;
    }

    // A file the daemon must be able to open at start, so a typo fails now and not on a request.
    std::string as_readable_file() const {
        const auto path = as_string();
        std::ifstream file(path);
        if (!file) fail("cannot read " + path + ": " + std::strerror(errno));
        return path;
    }

    const std::string& path() const { return path_; }

private:
    void expect_map() const {
        if (!node_.IsMap()) fail("expected a mapping of keys");
    }

    YAML::Node node_;
    std::string path_;
    std::set<std::string> known_;
};

// Sets target from key when the key is present; the default stays otherwise.
template <class T, class Convert>
void read_optional(Reader& map, const std::string& key, T& target, Convert convert) {
    if (auto value = map.child(key)) target = std::invoke(convert, *value);
}

ClientAuthConfig read_client_auth(Reader map) {
    ClientAuthConfig client_auth;
    read_optional(map, "mode", client_auth.mode, [](const Reader& r) {
        return r.as_one_of(std::array{"required", "optional"}) == "required" ? ClientAuthMode::required
                                                                             : ClientAuthMode::optional;
    });
    client_auth.trusted_ca_file = map.required("trusted_ca_file").as_readable_file();
    if (auto crls = map.child("crl_files")) {
        for (const auto& crl : crls->items()) client_auth.crl_files.push_back(crl.as_readable_file());
    }
    read_optional(map, "require_client_auth_eku", client_auth.require_client_auth_eku, &Reader::as_bool);
    map.reject_unknown_keys();
    return client_auth;
}

ListenerConfig read_listener(Reader map) {
    ListenerConfig listener;
    read_optional(map, "address", listener.address, &Reader::as_string);
    read_optional(map, "port", listener.port, &Reader::as_listen_port);
    listener.certificate = map.required("certificate").as_readable_file();
    listener.private_key = map.required("private_key").as_readable_file();
    listener.client_auth = read_client_auth(map.required("client_auth"));
    read_optional(map, "tls_min_version", listener.tls_min_version, [](const Reader& r) {
        return r.as_one_of(std::array{"1.2", "1.3"});
    });
    read_optional(map, "upstream", listener.upstream, &Reader::as_string);
    read_optional(map, "public_name", listener.public_name, &Reader::as_host_name);
    map.reject_unknown_keys();
    return listener;
}

UpstreamConfig read_upstream(Reader map) {
    UpstreamConfig upstream;
    upstream.name = map.required("name").as_string();
    for (const auto& server : map.required("servers").items()) {
        const auto url = server.as_string();
        auto target = parse_upstream_url(url);
        if (!target) server.fail("expected https://host[:port] or http://host[:port], got \"" + url + "\"");
        upstream.servers.push_back(std::move(*target));
    }
    if (upstream.servers.empty()) map.required("servers").fail("list at least one server");
    read_optional(map, "ca_file", upstream.ca_file, &Reader::as_readable_file);
    read_optional(map, "service_principal", upstream.service_principal, &Reader::as_string);
    read_optional(map, "authenticate", upstream.authenticate, [](const Reader& r) {
        return r.as_one_of(std::array{"per_request", "per_connection"}) == "per_connection"
                   ? UpstreamAuthentication::per_connection
                   : UpstreamAuthentication::per_request;
    });
    read_optional(map, "send_authorization", upstream.send_authorization, [](const Reader& r) {
        return r.as_one_of(std::array{"always", "on_challenge"}) == "on_challenge"
                   ? SendAuthorization::on_challenge
                   : SendAuthorization::always;
    });
    read_optional(map, "channel_binding", upstream.channel_binding, [](const Reader& r) {
        return r.as_one_of(std::array{"auto", "off"}) == "off" ? ChannelBinding::off
                                                               : ChannelBinding::automatic;
    });
    read_optional(map, "max_authorization_bytes", upstream.max_authorization_bytes, &Reader::as_size);
    if (upstream.max_authorization_bytes < 1024 || upstream.max_authorization_bytes > (1ULL << 20))
        map.required("max_authorization_bytes").fail("must be between 1KiB and 1MiB");
    if (auto check = map.child("health_check")) {
        auto& health = upstream.health_check.emplace();
        read_optional(*check, "path", health.path, &Reader::as_string);
        read_optional(*check, "interval", health.interval, &Reader::as_duration);
        read_optional(*check, "timeout", health.timeout, &Reader::as_duration);
        if (!health.path.starts_with('/'))
            check->required("path").fail("expected a path such as " + UpstreamConfig::HealthCheck{}.path);
        if (health.timeout > health.interval)
            check->required("timeout").fail("must not be longer than interval");
        check->reject_unknown_keys();
    }
    if (auto routes = map.child("routes")) {
        for (const auto& route : routes->items()) {
            auto prefix = route.as_string();
            if (!prefix.starts_with('/') || prefix.find_first_of("?# \t") != std::string::npos)
                route.fail("expected a path prefix such as /EWS/, got \"" + prefix + "\"");
            upstream.routes.push_back(std::move(prefix));
        }
    }
    map.reject_unknown_keys();
    return upstream;
}

LimitsConfig read_limits(Reader map) {
    LimitsConfig limits;
    read_optional(map, "upload_read_ahead", limits.upload_read_ahead, &Reader::as_size);
    read_optional(map, "max_request_body", limits.max_request_body, &Reader::as_size);
    read_optional(map, "max_header_bytes", limits.max_header_bytes, &Reader::as_size);
    read_optional(map, "header_timeout", limits.header_timeout, &Reader::as_duration);
    read_optional(map, "idle_timeout", limits.idle_timeout, &Reader::as_duration);
    read_optional(map, "client_body_timeout", limits.client_body_timeout, &Reader::as_duration);
    read_optional(map, "upstream_connect_timeout", limits.upstream_connect_timeout, &Reader::as_duration);
    read_optional(map, "upstream_timeout", limits.upstream_timeout, &Reader::as_duration);
    read_optional(map, "max_long_poll", limits.max_long_poll, &Reader::as_duration);
    read_optional(map, "shutdown_grace", limits.shutdown_grace, &Reader::as_duration);
    read_optional(map, "min_body_rate", limits.min_body_rate, &Reader::as_size);
    read_optional(map, "upstream_idle_timeout", limits.upstream_idle_timeout, &Reader::as_duration);
    read_optional(map, "max_idle_upstream_connections", limits.max_idle_upstream_connections,
                  [](const Reader& r) { return r.as_unsigned(1'000'000); });
    read_optional(map, "max_connections", limits.max_connections, [](const Reader& r) {
        const auto value = r.as_unsigned(10'000'000);
        if (value == 0) r.fail("must be at least 1");
        return value;
    });
    if (limits.max_header_bytes < 1024) map.required("max_header_bytes").fail("must be at least 1KiB");
    map.reject_unknown_keys();
    return limits;
}

LoggingConfig read_logging(Reader map) {
    LoggingConfig logging;
    read_optional(map, "level", logging.level, [](const Reader& r) {
        return r.as_one_of(std::array{"trace", "debug", "info", "warn", "error", "critical", "off"});
    });
    read_optional(map, "format", logging.format, [](const Reader& r) {
        return r.as_one_of(std::array{"text", "json"}) == "json" ? LogFormat::json : LogFormat::text;
    });
    map.reject_unknown_keys();
    return logging;
}

DirectoryConfig read_directory(Reader map) {
    DirectoryConfig directory;
    for (const auto& uri : map.required("uris").items()) {
        const auto text = uri.as_string();
        if (!text.starts_with("ldap://") && !text.starts_with("ldaps://")) {
            uri.fail("expected ldaps://host[:port] or ldap://host[:port], got \"" + text + "\"");
        }
        directory.uris.push_back(text);
    }
    if (directory.uris.empty()) map.required("uris").fail("list at least one directory server");
    directory.base_dn = map.required("base_dn").as_string();
    if (auto bind = map.child("bind")) {
        directory.bind = bind->required("method").as_one_of(std::array{"gssapi", "simple"}) == "simple"
                             ? DirectoryBind::simple
                             : DirectoryBind::gssapi;
        if (directory.bind == DirectoryBind::simple) {
            directory.bind_dn = bind->required("dn").as_string();
            directory.password_file = bind->required("password_file").as_readable_file();
        }
        bind->reject_unknown_keys();
    }
    read_optional(map, "ldap_tls", directory.ldap_tls, [](const Reader& r) {
        return r.as_one_of(std::array{"starttls", "none"}) == "none" ? LdapTls::none : LdapTls::starttls;
    });
    if (directory.ldap_tls == LdapTls::none && directory.bind == DirectoryBind::simple) {
        map.required("ldap_tls")
            .fail("a simple bind would send the password in clear: use starttls or ldaps://");
    }
    read_optional(map, "ca_file", directory.ca_file, &Reader::as_readable_file);
    read_optional(map, "timeout", directory.timeout, &Reader::as_duration);
    read_optional(map, "cache_ttl", directory.cache_ttl, &Reader::as_duration);
    read_optional(map, "negative_cache_ttl", directory.negative_cache_ttl, &Reader::as_duration);
    read_optional(map, "max_concurrent", directory.max_concurrent, &Reader::as_concurrency);
    map.reject_unknown_keys();
    return directory;
}

KerberosConfig read_kerberos(Reader map) {
    KerberosConfig kerberos;
    kerberos.keytab = map.required("keytab").as_readable_file();
    const auto principal = map.required("principal");
    kerberos.principal = principal.as_string();
    const auto at = kerberos.principal.rfind('@');
    if (at == std::string::npos || at == 0 || at + 1 == kerberos.principal.size()) {
        principal.fail("expected NAME@REALM, e.g. EASGATE$@CORP.EXAMPLE.COM, got \"" + kerberos.principal +
                       "\"");
    }
    read_optional(map, "krb5_conf", kerberos.krb5_conf, &Reader::as_readable_file);
    read_optional(map, "ticket_refresh_before", kerberos.ticket_refresh_before, &Reader::as_duration);
    read_optional(map, "max_concurrent_kdc", kerberos.max_concurrent_kdc, &Reader::as_concurrency);
    read_optional(map, "timeout", kerberos.timeout, &Reader::as_duration);
    map.reject_unknown_keys();
    return kerberos;
}

AdminConfig read_admin(Reader map) {
    AdminConfig admin;
    if (auto listen = map.child("listen")) {
        admin.listen = listen->as_string();
        if (!common::parse_listen_address(admin.listen))
            listen->fail("expected IP address:port (127.0.0.1:9443, [::1]:9443), got \"" + admin.listen +
                         "\"");
    }
    map.reject_unknown_keys();
    return admin;
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

    Reader root(document, "");
    Config config;
    for (auto& item : root.required("listeners").items()) config.listeners.push_back(read_listener(item));
    if (config.listeners.empty()) root.required("listeners").fail("list at least one listener");
    for (auto& item : root.required("upstreams").items()) config.upstreams.push_back(read_upstream(item));
    if (config.upstreams.empty()) root.required("upstreams").fail("list at least one upstream");
    if (auto limits = root.child("limits")) config.limits = read_limits(*limits);
    if (auto admin = root.child("admin")) config.admin = read_admin(*admin);
    if (auto logging = root.child("logging")) config.logging = read_logging(*logging);
    if (auto directory = root.child("directory")) config.directory = read_directory(*directory);
    if (auto kerberos = root.child("kerberos")) config.kerberos = read_kerberos(*kerberos);
    read_optional(root, "workers", config.workers, [](const Reader& r) { return r.as_unsigned(256); });
    root.reject_unknown_keys();
    check_cross_references(root, config);
    return config;
}

std::string to_yaml(const Config& config) {
    YAML::Emitter out;
    out << YAML::BeginMap;
    out << YAML::Key << "listeners" << YAML::Value << YAML::BeginSeq;
    for (const auto& l : config.listeners) {
        out << YAML::BeginMap;
        out << YAML::Key << "address" << YAML::Value << l.address;
        out << YAML::Key << "port" << YAML::Value << l.port;
        out << YAML::Key << "certificate" << YAML::Value << l.certificate;
        out << YAML::Key << "private_key" << YAML::Value << l.private_key;
        out << YAML::Key << "client_auth" << YAML::Value << YAML::BeginMap;
        out << YAML::Key << "mode" << YAML::Value
            << (l.client_auth.mode == ClientAuthMode::required ? "required" : "optional");
        out << YAML::Key << "trusted_ca_file" << YAML::Value << l.client_auth.trusted_ca_file;
        out << YAML::Key << "crl_files" << YAML::Value << YAML::Flow << l.client_auth.crl_files;
        out << YAML::Key << "require_client_auth_eku" << YAML::Value << l.client_auth.require_client_auth_eku;
        out << YAML::EndMap;
        out << YAML::Key << "tls_min_version" << YAML::Value << YAML::DoubleQuoted << l.tls_min_version;
        out << YAML::Key << "upstream" << YAML::Value << config.upstream_for(l).name;
        if (!l.public_name.empty()) out << YAML::Key << "public_name" << YAML::Value << l.public_name;
        out << YAML::EndMap;
    }
    out << YAML::EndSeq;
    out << YAML::Key << "upstreams" << YAML::Value << YAML::BeginSeq;
    for (const auto& u : config.upstreams) {
        out << YAML::BeginMap;
        out << YAML::Key << "name" << YAML::Value << u.name;
        out << YAML::Key << "servers" << YAML::Value << YAML::BeginSeq;
        for (const auto& s : u.servers) out << s.url;
        out << YAML::EndSeq;
        if (!u.ca_file.empty()) out << YAML::Key << "ca_file" << YAML::Value << u.ca_file;
        if (!u.service_principal.empty()) {
            out << YAML::Key << "service_principal" << YAML::Value << u.service_principal;
        }
        out << YAML::Key << "authenticate" << YAML::Value
            << (u.authenticate == UpstreamAuthentication::per_connection ? "per_connection" : "per_request");
        out << YAML::Key << "send_authorization" << YAML::Value
            << (u.send_authorization == SendAuthorization::on_challenge ? "on_challenge" : "always");
        out << YAML::Key << "channel_binding" << YAML::Value
            << (u.channel_binding == ChannelBinding::off ? "off" : "auto");
        out << YAML::Key << "max_authorization_bytes" << YAML::Value
            << format_size(u.max_authorization_bytes);
        out << YAML::Key << "routes" << YAML::Value << YAML::Flow << u.routes;
        if (const auto& health = u.health_check) {
            out << YAML::Key << "health_check" << YAML::Value << YAML::BeginMap;
            out << YAML::Key << "path" << YAML::Value << health->path;
            out << YAML::Key << "interval" << YAML::Value << format_duration(health->interval);
            out << YAML::Key << "timeout" << YAML::Value << format_duration(health->timeout);
            out << YAML::EndMap;
        }
        out << YAML::EndMap;
    }
    out << YAML::EndSeq;
    const auto& limits = config.limits;
    out << YAML::Key << "limits" << YAML::Value << YAML::BeginMap;
    out << YAML::Key << "upload_read_ahead" << YAML::Value << format_size(limits.upload_read_ahead);
    out << YAML::Key << "max_request_body" << YAML::Value << format_size(limits.max_request_body);
    out << YAML::Key << "max_header_bytes" << YAML::Value << format_size(limits.max_header_bytes);
    out << YAML::Key << "header_timeout" << YAML::Value << format_duration(limits.header_timeout);
    out << YAML::Key << "idle_timeout" << YAML::Value << format_duration(limits.idle_timeout);
    out << YAML::Key << "client_body_timeout" << YAML::Value << format_duration(limits.client_body_timeout);
    out << YAML::Key << "upstream_connect_timeout" << YAML::Value
        << format_duration(limits.upstream_connect_timeout);
    out << YAML::Key << "upstream_timeout" << YAML::Value << format_duration(limits.upstream_timeout);
    out << YAML::Key << "max_long_poll" << YAML::Value << format_duration(limits.max_long_poll);
    out << YAML::Key << "shutdown_grace" << YAML::Value << format_duration(limits.shutdown_grace);
    out << YAML::Key << "min_body_rate" << YAML::Value << format_size(limits.min_body_rate);
    out << YAML::Key << "max_connections" << YAML::Value << limits.max_connections;
    out << YAML::Key << "upstream_idle_timeout" << YAML::Value
        << format_duration(limits.upstream_idle_timeout);
    out << YAML::Key << "max_idle_upstream_connections" << YAML::Value
        << limits.max_idle_upstream_connections;
    out << YAML::EndMap;
    out << YAML::Key << "admin" << YAML::Value << YAML::BeginMap;
    out << YAML::Key << "listen" << YAML::Value << config.admin.listen;
    out << YAML::EndMap;
    out << YAML::Key << "logging" << YAML::Value << YAML::BeginMap;
    out << YAML::Key << "level" << YAML::Value << config.logging.level;
    out << YAML::Key << "format" << YAML::Value
        << (config.logging.format == LogFormat::json ? "json" : "text");
    out << YAML::EndMap;
    if (const auto& d = config.directory) {
        out << YAML::Key << "directory" << YAML::Value << YAML::BeginMap;
        out << YAML::Key << "uris" << YAML::Value << d->uris;
        out << YAML::Key << "base_dn" << YAML::Value << d->base_dn;
        out << YAML::Key << "bind" << YAML::Value << YAML::BeginMap;
        out << YAML::Key << "method" << YAML::Value
            << (d->bind == DirectoryBind::simple ? "simple" : "gssapi");
        if (d->bind == DirectoryBind::simple) {
            out << YAML::Key << "dn" << YAML::Value << d->bind_dn;
            out << YAML::Key << "password_file" << YAML::Value << d->password_file;
        }
        out << YAML::EndMap;
        out << YAML::Key << "ldap_tls" << YAML::Value << (d->ldap_tls == LdapTls::none ? "none" : "starttls");
        if (!d->ca_file.empty()) out << YAML::Key << "ca_file" << YAML::Value << d->ca_file;
        out << YAML::Key << "timeout" << YAML::Value << format_duration(d->timeout);
        out << YAML::Key << "cache_ttl" << YAML::Value << format_duration(d->cache_ttl);
        out << YAML::Key << "negative_cache_ttl" << YAML::Value << format_duration(d->negative_cache_ttl);
        out << YAML::Key << "max_concurrent" << YAML::Value << d->max_concurrent;
        out << YAML::EndMap;
    }
    if (const auto& k = config.kerberos) {
        out << YAML::Key << "kerberos" << YAML::Value << YAML::BeginMap;
        out << YAML::Key << "keytab" << YAML::Value << k->keytab;
        out << YAML::Key << "principal" << YAML::Value << k->principal;
        if (!k->krb5_conf.empty()) out << YAML::Key << "krb5_conf" << YAML::Value << k->krb5_conf;
        out << YAML::Key << "ticket_refresh_before" << YAML::Value
            << format_duration(k->ticket_refresh_before);
        out << YAML::Key << "max_concurrent_kdc" << YAML::Value << k->max_concurrent_kdc;
        out << YAML::Key << "timeout" << YAML::Value << format_duration(k->timeout);
        out << YAML::EndMap;
    }
    out << YAML::Key << "workers" << YAML::Value << config.workers;
    out << YAML::EndMap;
    return std::string(out.c_str()) + "\n";
}

}  // namespace easgate::config
