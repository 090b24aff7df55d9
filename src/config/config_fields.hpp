#pragma once

// Every configuration key, spelled once. Each list below is called with a visitor: the parser
// (load_config) reads the fields in this order, the writer (to_yaml) prints them in this order, so
// the key a value is read from and the key it is shown under can't drift apart. Sections are
// generic lambdas, called with a mutable section when parsing and a const one when writing.
//
// A visitor offers:
//   field(key, value, codec[, presence][, check])  one value; check() returns an error or nullptr,
//                                                  tested after the key is read (or left out)
//   section(key, object, fields[, presence])       a nested mapping, always shown
//   optional_section(key, std::optional, fields)   a nested mapping, shown when configured
//   list(key, std::vector, fields, at_least_one)   a required, non-empty list of mappings

#include <algorithm>

#include "config_codecs.hpp"

namespace easgate::config::fields {

// Required keys must be present. Keys shown only when set are left out of to_yaml while empty.
enum class Presence { optional, required, shown_when_set };

using namespace codec;

inline constexpr auto crl_refresh = [](auto& f, auto& r) {
    f.field("mode", r.mode,
            one_of<CrlRefreshMode>({{"cdp", CrlRefreshMode::cdp}, {"off", CrlRefreshMode::off}}));
    f.field("interval", r.interval, Duration{}, Presence::optional,
            [&r] { return r.interval < std::chrono::seconds(1) ? "must be at least 1s" : nullptr; });
    f.field("timeout", r.timeout, Duration{}, Presence::optional,
            [&r] { return r.timeout > r.interval ? "must not be longer than interval" : nullptr; });
    f.field("grace", r.grace, DurationOrZero{});
    f.field("max_crl_bytes", r.max_crl_bytes, Size{.min = 1024, .max = 1ull << 30});
    f.field("cache_dir", r.cache_dir, AbsolutePath{}, Presence::shown_when_set);
};

inline constexpr auto client_auth = [](auto& f, auto& c) {
    f.field("mode", c.mode,
            one_of<ClientAuthMode>(
                {{"required", ClientAuthMode::required}, {"optional", ClientAuthMode::optional}}));
    f.field("trusted_ca_file", c.trusted_ca_file, ReadableFile{}, Presence::required);
    f.field("issuers", c.issuers,
            one_of<DeviceIssuers>(
                {{"listed", DeviceIssuers::listed}, {"any_below_listed", DeviceIssuers::any_below_listed}}));
    f.field("crl_files", c.crl_files, ListOf<ReadableFile>{.flow = true});
    f.field("require_client_auth_eku", c.require_client_auth_eku, Flag{});
    f.optional_section("crl_refresh", c.crl_refresh, crl_refresh);
};

inline constexpr auto listener = [](auto& f, auto& l) {
    f.field("address", l.address, Text{});
    f.field("port", l.port, Whole{.max = 65535});  // 0 lets the kernel pick one, named in the log (tests)
    f.field("certificate", l.certificate, ReadableFile{}, Presence::required);
    f.field("private_key", l.private_key, ReadableFile{}, Presence::required);
    f.section("client_auth", l.client_auth, client_auth, Presence::required);
    f.field("tls_min_version", l.tls_min_version, Word<2>{.choices = {"1.2", "1.3"}, .quoted = true});
    f.field("tls_session_cache_size", l.tls_session_cache_size, Whole{.max = 10'000'000});
    f.field("tls_session_lifetime", l.tls_session_lifetime, Duration{}, Presence::optional, [&l] {
        return l.tls_session_lifetime < std::chrono::seconds(1) ||
                       l.tls_session_lifetime > std::chrono::hours(24)
                   ? "must be between 1s and 24h"
                   : nullptr;
    });
    f.field("upstream", l.upstream, Text{});
    f.field("public_name", l.public_name, HostName{}, Presence::shown_when_set);
    // Read first, so proxy_protocol's check sees it.
    f.field("trusted_proxies", l.trusted_proxies, ListOf<Network>{.flow = true}, Presence::shown_when_set);
    f.field("proxy_protocol", l.proxy_protocol, Flag{}, Presence::optional, [&l] {
        return l.proxy_protocol && l.trusted_proxies.empty()
                   ? "true needs trusted_proxies: the load balancers' addresses (CIDR); a PROXY header from "
                     "anyone else would let them pose as any device"
                   : nullptr;
    });
};

inline constexpr auto health_check = [](auto& f, auto& h) {
    f.field("path", h.path, HealthCheckPath{});
    f.field("interval", h.interval, Duration{});
    f.field("timeout", h.timeout, Duration{}, Presence::optional,
            [&h] { return h.timeout > h.interval ? "must not be longer than interval" : nullptr; });
};

inline constexpr auto upstream = [](auto& f, auto& u) {
    f.field("name", u.name, Text{}, Presence::required);
    f.field("servers", u.servers, ListOf<ServerUrl>{.at_least_one = "list at least one server"},
            Presence::required);
    f.field("ca_file", u.ca_file, ReadableFile{}, Presence::shown_when_set);
    f.field("service_principal", u.service_principal, Text{}, Presence::shown_when_set);
    f.field("authenticate", u.authenticate,
            one_of<UpstreamAuthentication>({{"per_request", UpstreamAuthentication::per_request},
                                            {"per_connection", UpstreamAuthentication::per_connection}}));
    f.field("send_authorization", u.send_authorization,
            one_of<SendAuthorization>(
                {{"always", SendAuthorization::always}, {"on_challenge", SendAuthorization::on_challenge}}));
    f.field("channel_binding", u.channel_binding,
            one_of<ChannelBinding>({{"auto", ChannelBinding::automatic}, {"off", ChannelBinding::off}}));
    f.field("max_authorization_bytes", u.max_authorization_bytes, Size{.min = 1024, .max = 1 << 20});
    f.field("routes", u.routes, ListOf<PathPrefix>{.flow = true});
    f.field("dns_refresh", u.dns_refresh, Duration{});
    f.optional_section("health_check", u.health_check, health_check);
};

inline constexpr auto limits = [](auto& f, auto& l) {
    f.field("upload_read_ahead", l.upload_read_ahead, Size{});
    f.field("max_request_body", l.max_request_body, Size{});
    f.field("max_header_bytes", l.max_header_bytes, Size{.min = 1024});
    f.field("handshake_timeout", l.handshake_timeout, Duration{});
    f.field("header_timeout", l.header_timeout, Duration{});
    f.field("idle_timeout", l.idle_timeout, Duration{});
    f.field("client_body_timeout", l.client_body_timeout, Duration{});
    f.field("upstream_connect_timeout", l.upstream_connect_timeout, Duration{});
    f.field("upstream_timeout", l.upstream_timeout, Duration{});
    f.field("max_long_poll", l.max_long_poll, Duration{});
    f.field("shutdown_grace", l.shutdown_grace, Duration{});
    f.field("shutdown_delay", l.shutdown_delay, DurationOrZero{});
    f.field("min_body_rate", l.min_body_rate, Size{});
    f.field("max_connections", l.max_connections, Whole{.min = 1, .max = 10'000'000});
    f.field("max_connections_per_user", l.max_connections_per_user, Whole{.max = 10'000'000});
    f.field("max_opening_per_address", l.max_opening_per_address, Whole{.max = 10'000'000});
    f.field("upstream_idle_timeout", l.upstream_idle_timeout, Duration{});
    f.field("max_idle_upstream_connections", l.max_idle_upstream_connections, Whole{.max = 1'000'000});
};

inline constexpr auto admin = [](auto& f, auto& a) { f.field("listen", a.listen, ListenAddress{}); };

inline constexpr auto logging = [](auto& f, auto& l) {
    f.field("level", l.level, Word<7>{{"trace", "debug", "info", "warn", "error", "critical", "off"}});
    f.field("format", l.format, one_of<LogFormat>({{"text", LogFormat::text}, {"json", LogFormat::json}}));
    f.field("access_log", l.access_log, AbsolutePath{}, Presence::shown_when_set);
};

// The bind: mapping's keys live flat in DirectoryConfig.
inline constexpr auto directory_bind = [](auto& f, auto& d) {
    f.field("method", d.bind,
            one_of<DirectoryBind>({{"gssapi", DirectoryBind::gssapi}, {"simple", DirectoryBind::simple}}),
            Presence::required);
    if (d.bind != DirectoryBind::simple) return;
    f.field("dn", d.bind_dn, Text{}, Presence::required);
    f.field("password_file", d.password_file, ReadableFile{}, Presence::required);
};

inline constexpr auto directory = [](auto& f, auto& d) {
    f.field("uris", d.uris, ListOf<LdapUri>{.at_least_one = "list at least one directory server"},
            Presence::required);
    f.field("base_dn", d.base_dn, Text{}, Presence::required);
    f.section("bind", d, directory_bind);
    f.field("ldap_tls", d.ldap_tls,
            one_of<LdapTls>({{"starttls", LdapTls::starttls}, {"none", LdapTls::none}}), Presence::optional,
            [&d] {  // ldaps:// URIs are TLS from the start, whatever ldap_tls says
                const bool clear_uri = std::any_of(d.uris.begin(), d.uris.end(), [](const std::string& uri) {
                    return uri.starts_with("ldap://");
                });
                return clear_uri && d.ldap_tls == LdapTls::none && d.bind == DirectoryBind::simple
                           ? "a simple bind over an ldap:// URI would send the password in clear: use "
                             "starttls or ldaps://"
                           : nullptr;
            });
    f.field("ca_file", d.ca_file, ReadableFile{}, Presence::shown_when_set);
    f.field("timeout", d.timeout, Duration{});
    f.field("cache_ttl", d.cache_ttl, Duration{});
    f.field("negative_cache_ttl", d.negative_cache_ttl, Duration{});
    f.field("max_concurrent", d.max_concurrent, Whole{.min = 1, .max = 64});
    f.field("max_queued_lookups", d.max_queued_lookups, Whole{.min = 1, .max = 1'000'000});
    f.field("require_group", d.require_group, DistinguishedName{}, Presence::shown_when_set);
};

inline constexpr auto kerberos = [](auto& f, auto& k) {
    f.field("keytab", k.keytab, ReadableFile{}, Presence::required);
    f.field("principal", k.principal, Principal{}, Presence::required);
    f.field("krb5_conf", k.krb5_conf, ReadableFile{}, Presence::shown_when_set);
    f.field("ticket_refresh_before", k.ticket_refresh_before, Duration{});
    f.field("max_concurrent_kdc", k.max_concurrent_kdc, Whole{.min = 1, .max = 64});
    f.field("max_queued_kdc", k.max_queued_kdc, Whole{.min = 1, .max = 1'000'000});
    f.field("timeout", k.timeout, Duration{});
};

inline constexpr auto identity = [](auto& f, auto& i) {
    f.field("mapping", i.mapping,
            ListOf<Choice<CertificateMapping, 4>>{
                .item = one_of<CertificateMapping>(
                    {{"upn", CertificateMapping::upn},
                     {"email", CertificateMapping::email},
                     {"sid", CertificateMapping::sid},
                     {"alt_security_identities", CertificateMapping::alt_security_identities}}),
                .flow = true,
                .at_least_one = "list at least one of upn, email, sid, alt_security_identities"});
    f.field("strong_mapping", i.strong_mapping,
            one_of<StrongMapping>({{"required", StrongMapping::required},
                                   {"preferred", StrongMapping::preferred},
                                   {"off", StrongMapping::off}}));
    f.field("backdating_compensation", i.backdating_compensation, DurationOrZero{});
};

inline constexpr auto policy_action =
    one_of<PolicyAction>({{"allow", PolicyAction::allow}, {"deny", PolicyAction::deny}});

inline constexpr auto policy_rule = [](auto& f, auto& r) {
    f.field("name", r.name, RuleName{}, Presence::required);
    f.field("action", r.action, policy_action, Presence::required);
    f.field("users", r.users, ListOf<Text>{.flow = true}, Presence::shown_when_set);
    f.field("groups", r.groups, ListOf<Text>{.flow = true}, Presence::shown_when_set);
    f.field("device_ids", r.device_ids, ListOf<Text>{.flow = true}, Presence::shown_when_set);
    f.field("device_types", r.device_types, ListOf<Text>{.flow = true}, Presence::shown_when_set);
    f.field("user_agents", r.user_agents, ListOf<Pattern>{.flow = true}, Presence::shown_when_set);
    f.field("commands", r.commands, ListOf<Text>{.flow = true}, Presence::shown_when_set);
    f.field("protocol_versions", r.protocol_versions,
            ListOf<Word<9>>{
                .item = {.choices = {"2.0", "2.1", "2.5", "12.0", "12.1", "14.0", "14.1", "16.0", "16.1"},
                         .quoted = true},
                .flow = true},
            Presence::shown_when_set);
    f.field("source_networks", r.source_networks, ListOf<Network>{.flow = true}, Presence::shown_when_set);
};

inline constexpr auto policy = [](auto& f, auto& p) {
    f.field("default", p.default_action, policy_action);
    // May be left out when use_exchange_device_lists decides alone (check_policy).
    f.list("rules", p.rules, policy_rule, nullptr);
    f.field("use_exchange_device_lists", p.use_exchange_device_lists, Flag{});
};

inline constexpr auto config = [](auto& f, auto& c) {
    f.list("listeners", c.listeners, listener, "list at least one listener");
    f.list("upstreams", c.upstreams, upstream, "list at least one upstream");
    f.section("limits", c.limits, limits);
    f.section("admin", c.admin, admin);
    f.section("logging", c.logging, logging);
    f.section("identity", c.identity, identity);
    f.optional_section("directory", c.directory, directory);
    f.optional_section("kerberos", c.kerberos, kerberos);
    f.optional_section("policy", c.policy, policy);
    f.field("workers", c.workers, Whole{.max = 256});
};

}  // namespace easgate::config::fields
