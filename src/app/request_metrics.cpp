// What devices asked and how long each hop took, and the dates (certificates, CRLs) an admin must
// act on before they pass.
#include <algorithm>
#include <cstdint>
#include <map>
#include <string>

#include "easgate/app/gateway_metrics.hpp"

namespace easgate::app {
namespace {

using Type = admin::MetricFamily::Type;

admin::MetricFamily one_histogram(const char* name, const char* help, const common::Histogram& histogram) {
    return {name, help, Type::histogram, {admin::histogram_series("", histogram)}};
}

admin::MetricFamily gauge(const char* name, const char* help, double value) {
    return {name, help, Type::gauge, {{"", value}}};
}

// The earliest date per label set over the listeners' CA files: listeners sharing a CA file (or a
// CA renewed under the same name) must not repeat a series, and an alert wants the first to pass.
void add_deadlines(std::map<std::string, std::int64_t>& earliest,
                   const std::vector<identity::RevocationStore::Deadline>& deadlines,
                   const char* name_label) {
    for (const auto& deadline : deadlines) {
        auto labels = admin::label(name_label, deadline.name);
        if (deadline.delta) labels += ",kind=\"delta\"";
        const auto [it, added] = earliest.try_emplace(std::move(labels), deadline.seconds);
        if (!added) it->second = std::min(it->second, deadline.seconds);
    }
}

admin::MetricFamily deadline_gauge(const char* name, const char* help,
                                   const std::map<std::string, std::int64_t>& earliest) {
    admin::MetricFamily family{name, help, Type::gauge, {}};
    for (const auto& [labels, seconds] : earliest) family.series.push_back({labels, seconds});
    return family;
}

}  // namespace

void collect_request_metrics(const MetricsSources& sources, std::vector<admin::MetricFamily>& out) {
    if (const auto* r = sources.requests) {
        admin::MetricFamily family{"easgate_requests_total",
                                   "requests answered, by ActiveSync command (\"-\" without one, \"other\" "
                                   "for a name the protocol does not list) and the status the device got",
                                   Type::counter,
                                   {}};
        for (const auto& count : r->counts())
            family.series.push_back({admin::label("command", count.command) + "," +
                                         admin::label("status", std::to_string(count.status)),
                                     count.requests});
        out.push_back(std::move(family));
        out.push_back(one_histogram("easgate_request_duration_seconds",
                                    "time from a request's header to its answer; long polls Exchange "
                                    "holds by design (Ping, Sync with Wait) are left out",
                                    r->durations()));
        out.push_back(gauge("easgate_long_polls_held", "long polls (Ping, Sync with Wait) Exchange holds now",
                            static_cast<double>(r->long_polls_held())));
    }
    admin::MetricFamily upstream{"easgate_upstream_duration_seconds",
                                 "time from sending a request to Exchange's response header, by upstream; "
                                 "long polls left out",
                                 Type::histogram,
                                 {}};
    for (const auto* u : sources.upstreams)
        upstream.series.push_back(
            admin::histogram_series(admin::label("upstream", u->name()), u->response_seconds()));
    out.push_back(std::move(upstream));
    if (const auto* d = sources.delegation) {
        admin::MetricFamily kdc{"easgate_kdc_duration_seconds",
                                "time the KDC took over exchanges actually sent to it (not cache hits)",
                                Type::histogram,
                                {}};
        kdc.series.push_back(admin::histogram_series("exchange=\"s4u2self\"", d->s4u2self_seconds));
        kdc.series.push_back(admin::histogram_series("exchange=\"s4u2proxy\"", d->s4u2proxy_seconds));
        out.push_back(std::move(kdc));
    }
    if (const auto* d = sources.directory)
        out.push_back(one_histogram(
            "easgate_ldap_duration_seconds",
            "time directory servers took over searches actually sent (not cache hits)", d->search_seconds));
    if (sources.directory_cache_entries)
        out.push_back(gauge("easgate_directory_cache_entries", "user lookups held in the directory cache",
                            static_cast<double>(*sources.directory_cache_entries)));
    if (sources.delegation_cache_entries)
        out.push_back(gauge("easgate_delegation_cache_entries",
                            "delegated credentials (user, SPN) held in the ticket cache",
                            static_cast<double>(*sources.delegation_cache_entries)));
}

void collect_certificate_metrics(const MetricsSources& sources, std::vector<admin::MetricFamily>& out) {
    admin::MetricFamily listener{"easgate_listener_certificate_expiry_seconds",
                                 "seconds until each listener's server certificate expires (negative once "
                                 "it has)",
                                 Type::gauge,
                                 {}};
    admin::MetricFamily sessions{"easgate_device_tls_sessions_cached",
                                 "device TLS sessions each listener keeps for resumption (up to "
                                 "tls_session_cache_size)",
                                 Type::gauge,
                                 {}};
    std::map<std::string, std::int64_t> crls;
    std::map<std::string, std::int64_t> cas;
    for (std::size_t i = 0; i < sources.listener_tls.size(); ++i) {
        const auto& tls = *sources.listener_tls[i];
        listener.series.push_back(
            {admin::label("listener", std::to_string(i)), tls.certificate_expiry_seconds()});
        sessions.series.push_back({admin::label("listener", std::to_string(i)), tls.cached_sessions()});
        add_deadlines(crls, tls.revocation()->crl_next_updates(), "issuer");
        add_deadlines(cas, tls.revocation()->anchor_expiries(), "subject");
    }
    out.push_back(std::move(listener));
    out.push_back(std::move(sessions));
    out.push_back(deadline_gauge("easgate_crl_next_update_seconds",
                                 "seconds until the nextUpdate of each CRL in use, by issuer (negative once "
                                 "past: devices are refused unless within client_auth.crl_refresh.grace)",
                                 crls));
    out.push_back(deadline_gauge("easgate_trusted_ca_expiry_seconds",
                                 "seconds until each CA of client_auth.trusted_ca_file expires, by subject",
                                 cas));
}

}  // namespace easgate::app
