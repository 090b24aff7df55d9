#include "easgate/admin/metrics.hpp"

#include <atomic>
#include <cstdint>

namespace easgate::admin {
namespace {

void metric(std::string& out, const char* type, const char* name, const char* help, std::uint64_t value) {
    out.append("# HELP ").append(name).append(" ").append(help).append("\n");
    out.append("# TYPE ").append(name).append(" ").append(type).append("\n");
    out.append(name).append(" ").append(std::to_string(value)).append("\n");
}

void counter(std::string& out, const char* name, const char* help, const std::atomic<std::uint64_t>& value) {
    metric(out, "counter", name, help, value.load(std::memory_order_relaxed));
}

// One series per upstream, labelled with its name.
template <class Value>
void per_upstream(std::string& out, const char* name, const char* help,
                  const std::vector<const upstream::Upstream*>& upstreams, Value value) {
    if (upstreams.empty()) return;
    out.append("# HELP ").append(name).append(" ").append(help).append("\n");
    out.append("# TYPE ").append(name).append(" counter\n");
    for (const auto* u : upstreams) {
        out.append(name).append("{upstream=\"").append(u->name()).append("\"} ");
        out.append(std::to_string(value(*u))).append("\n");
    }
}

}  // namespace

std::string render_metrics(const MetricsSources& sources) {
    std::string out;
    if (const auto* s = sources.sessions) {
        metric(out, "gauge", "easgate_device_connections", "device connections open now", s->size());
        metric(out, "counter", "easgate_device_connections_refused_total",
               "device connections closed at accept: limits.max_connections was reached", s->refused());
    }
    per_upstream(out, "easgate_upstream_tls_handshakes_total", "TLS handshakes with Exchange servers",
                 sources.upstreams, [](const upstream::Upstream& u) { return u.tls_handshakes(); });
    per_upstream(out, "easgate_upstream_tls_resumed_total", "of those, resumed sessions (no key exchange)",
                 sources.upstreams, [](const upstream::Upstream& u) { return u.tls_resumptions(); });
    if (const auto* d = sources.delegation) {
        counter(out, "easgate_kdc_s4u2self_total", "S4U2Self exchanges with the KDC (impersonation)",
                d->s4u2self);
        counter(out, "easgate_kdc_s4u2proxy_total", "S4U2Proxy exchanges with the KDC (service tickets)",
                d->s4u2proxy);
        counter(out, "easgate_delegation_cache_hits_total", "Negotiate tokens made from a cached ticket",
                d->cache_hits);
        counter(out, "easgate_delegation_failures_total", "delegations the KDC refused or could not serve",
                d->failures);
    }
    if (const auto* d = sources.directory) {
        counter(out, "easgate_ldap_searches_total", "user searches sent to a directory server", d->searches);
        counter(out, "easgate_directory_cache_hits_total", "user lookups answered from the cache",
                d->cache_hits);
        counter(out, "easgate_directory_shared_lookups_total",
                "lookups that joined a search already in flight", d->shared_lookups);
        counter(out, "easgate_ldap_connections_opened_total", "LDAP connections opened and bound",
                d->connections_opened);
    }
    return out;
}

}  // namespace easgate::admin
