#include "easgate/app/gateway_metrics.hpp"

#include <atomic>
#include <cstdint>

namespace easgate::app {
namespace {

using Type = admin::MetricFamily::Type;

admin::MetricFamily single(Type type, const char* name, const char* help, std::uint64_t value) {
    return {name, help, type, {{"", value}}};
}

admin::MetricFamily counter(const char* name, const char* help, const std::atomic<std::uint64_t>& value) {
    return single(Type::counter, name, help, value.load(std::memory_order_relaxed));
}

// One series per upstream, labelled with its name.
template <class Value>
admin::MetricFamily per_upstream(const char* name, const char* help,
                                 const std::vector<const upstream::Upstream*>& upstreams, Value value) {
    admin::MetricFamily family{name, help, Type::counter, {}};
    for (const auto* u : upstreams) family.series.push_back({"upstream=\"" + u->name() + "\"", value(*u)});
    return family;
}

std::string policy_labels(std::string_view rule, config::PolicyAction action) {
    return "rule=\"" + std::string(rule) + "\",action=\"" +
           (action == config::PolicyAction::allow ? "allow" : "deny") + "\"";
}

// One series per cause of a fixed set, labelled reason.
template <std::size_t N, class Value>
admin::MetricFamily by_reason(const char* name, const char* help,
                              const std::array<std::string_view, N>& causes, Value value) {
    admin::MetricFamily family{name, help, Type::counter, {}};
    for (const auto cause : causes)
        family.series.push_back({"reason=\"" + std::string(cause) + "\"", value(cause)});
    return family;
}

void add_delegation(std::vector<admin::MetricFamily>& out, const delegation::DelegationCounters& d) {
    out.push_back(
        counter("easgate_kdc_s4u2self_total", "S4U2Self exchanges with the KDC (impersonation)", d.s4u2self));
    out.push_back(counter("easgate_kdc_s4u2proxy_total", "S4U2Proxy exchanges with the KDC (service tickets)",
                          d.s4u2proxy));
    out.push_back(counter("easgate_delegation_cache_hits_total", "requests delegated with a cached ticket",
                          d.cache_hits));
    out.push_back(counter("easgate_delegation_tokens_total",
                          "Negotiate tokens made from cached tickets, one per token sent to Exchange",
                          d.tokens));
    out.push_back(counter("easgate_delegation_renewals_total",
                          "tickets dropped and obtained again because Exchange refused them (401)",
                          d.renewals));
    out.push_back(counter("easgate_delegation_failures_total",
                          "delegations the KDC refused or could not serve", d.failures));
    out.push_back(counter("easgate_kdc_queue_full_total",
                          "KDC exchanges refused at once because kerberos.max_queued_kdc were waiting",
                          d.queue_full));
    out.push_back(single(Type::gauge, "easgate_kdcs_asked_last",
                         "KDCs of the realm that accept connections and did not answer easgate's check: "
                         "krb5 asks them last until they answer",
                         d.kdcs_asked_last.load(std::memory_order_relaxed)));
}

void add_sessions(std::vector<admin::MetricFamily>& out, const listener::SessionRegistry& s) {
    out.push_back(single(Type::gauge, "easgate_device_connections", "device connections open now", s.size()));
    out.push_back(single(Type::counter, "easgate_device_connections_refused_total",
                         "device connections closed at accept: limits.max_connections was reached",
                         s.refused()));
    out.push_back(single(Type::counter, "easgate_device_connections_reclaimed_total",
                         "device connections closed at limits.max_connections to take a new one: the one "
                         "opening longest, else the one kept alive longest, idle for a second or more",
                         s.reclaimed()));
    out.push_back(single(Type::counter, "easgate_device_connections_over_user_limit_total",
                         "device connections whose request got 503: limits.max_connections_per_user of their "
                         "user were open",
                         s.over_user_limit()));
    out.push_back(single(
        Type::gauge, "easgate_device_connections_opening",
        "device connections opening now: in their TLS handshake or before their first request", s.opening()));
    out.push_back(single(Type::counter, "easgate_device_connections_over_address_limit_total",
                         "device connections closed before TLS: limits.max_opening_per_address of their "
                         "source were opening already",
                         s.over_address_limit()));
    out.push_back(by_reason(
        "easgate_proxy_protocol_refused_total",
        "connections a proxy_protocol listener closed before TLS: an untrusted source, or a "
        "missing, malformed or late PROXY header",
        listener::proxy_refusal_causes, [&s](std::string_view cause) { return s.proxy_refusals(cause); }));
    out.push_back(by_reason("easgate_device_certificates_refused_total",
                            "device certificates refused in the TLS handshake (or when a resumed session was "
                            "checked again), by cause",
                            listener::certificate_refusal_causes,
                            [&s](std::string_view cause) { return s.certificate_refusals(cause); }));
    out.push_back(single(Type::counter, "easgate_device_tls_handshakes_total",
                         "TLS handshakes with devices that succeeded", s.handshakes()));
    out.push_back(single(Type::counter, "easgate_device_tls_resumed_total",
                         "of those, resumed sessions (the certificate was not sent again)",
                         s.resumed_handshakes()));
}

void add_refusals(std::vector<admin::MetricFamily>& out, const common::FailureTally& r) {
    admin::MetricFamily family{"easgate_requests_refused_total",
                               "requests the filter chain answered itself instead of forwarding them "
                               "(403 refused, 503 infrastructure), by status and cause",
                               Type::counter,
                               {}};
    // Causes are words from the code (Failure::cause): no label escaping needed.
    for (const auto& count : r.counts())
        family.series.push_back(
            {"status=\"" + std::to_string(count.status) + "\",cause=\"" + count.cause + "\"",
             count.requests});
    out.push_back(std::move(family));
}

void add_policy(std::vector<admin::MetricFamily>& out, const pipeline::DevicePolicy& p) {
    admin::MetricFamily family{"easgate_policy_decisions_total",
                               "requests decided by the device policy, by rule (or default) and action",
                               Type::counter,
                               {}};
    // Rule names are letters, digits, '-', '_' and '.' (config check): no label escaping needed.
    for (const auto& count : p.counts())
        family.series.push_back({policy_labels(count.rule, count.action), count.decisions});
    out.push_back(std::move(family));
}

void add_directory(std::vector<admin::MetricFamily>& out, const directory::DirectoryCounters& d) {
    out.push_back(
        counter("easgate_ldap_searches_total", "user searches sent to a directory server", d.searches));
    out.push_back(
        counter("easgate_directory_cache_hits_total", "user lookups answered from the cache", d.cache_hits));
    out.push_back(counter("easgate_directory_shared_lookups_total",
                          "lookups that joined a search already in flight", d.shared_lookups));
    out.push_back(counter("easgate_ldap_connections_opened_total", "LDAP connections opened and bound",
                          d.connections_opened));
    out.push_back(counter("easgate_directory_queue_full_total",
                          "lookups answered 503 at once: directory.max_queued_lookups searches were waiting",
                          d.queue_full));
    admin::MetricFamily failures{"easgate_directory_server_failures_total",
                                 "connections, binds and searches that failed on a directory server "
                                 "(easgate went on to the next URI)",
                                 Type::counter,
                                 {}};
    for (std::size_t i = 0; i < d.uris.size(); ++i)
        failures.series.push_back(
            {admin::label("uri", d.uris[i]), d.server_failures[i].load(std::memory_order_relaxed)});
    out.push_back(std::move(failures));
}

void add_crl_refresh(std::vector<admin::MetricFamily>& out, const identity::CrlRefreshCounters& c) {
    out.push_back(
        counter("easgate_crl_fetches_total", "CRL downloads from the CAs' distribution points", c.fetches));
    out.push_back(counter("easgate_crl_fetch_failures_total",
                          "CRL downloads that failed: the last good CRL stayed in use", c.failures));
    out.push_back(counter("easgate_crl_updates_total", "newer CRLs swapped in without a restart", c.updates));
    out.push_back(single(Type::gauge, "easgate_crl_distribution_points_failing",
                         "CRL distribution points whose last download failed",
                         c.failing.load(std::memory_order_relaxed)));
}

}  // namespace

std::vector<admin::MetricFamily> collect_metrics(const MetricsSources& sources) {
    std::vector<admin::MetricFamily> out;
    if (const auto* s = sources.sessions) add_sessions(out, *s);
    out.push_back(per_upstream("easgate_upstream_tls_handshakes_total",
                               "TLS handshakes with Exchange servers", sources.upstreams,
                               [](const upstream::Upstream& u) { return u.tls_handshakes(); }));
    out.push_back(per_upstream("easgate_upstream_tls_resumed_total",
                               "of those, resumed sessions (no key exchange)", sources.upstreams,
                               [](const upstream::Upstream& u) { return u.tls_resumptions(); }));
    out.push_back(
        per_upstream("easgate_upstream_token_refused_total",
                     "401 answers of Exchange to easgate's Kerberos token that went on to a device "
                     "(phones then ask for a password): Exchange did not accept the delegated ticket",
                     sources.upstreams, [](const upstream::Upstream& u) { return u.tokens_refused(); }));
    if (const auto* d = sources.delegation) add_delegation(out, *d);
    if (const auto* r = sources.refusals) add_refusals(out, *r);
    if (const auto* p = sources.policy) add_policy(out, *p);
    if (const auto* d = sources.directory) add_directory(out, *d);
    if (const auto* c = sources.crl_refresh) add_crl_refresh(out, *c);
    collect_request_metrics(sources, out);
    collect_certificate_metrics(sources, out);
    return out;
}

}  // namespace easgate::app
