#pragma once

#include <cstddef>
#include <optional>
#include <vector>

#include "easgate/admin/metrics.hpp"
#include "easgate/common/failure_tally.hpp"
#include "easgate/delegation/delegation_service.hpp"
#include "easgate/directory/directory_client.hpp"
#include "easgate/identity/revocation_store.hpp"
#include "easgate/listener/request_metrics.hpp"
#include "easgate/listener/session_registry.hpp"
#include "easgate/listener/tls_context.hpp"
#include "easgate/pipeline/device_policy.hpp"
#include "easgate/upstream/upstream.hpp"

namespace easgate::app {

// What /metrics reports; a null source is a stage that is not configured and is left out.
struct MetricsSources {
    const directory::DirectoryCounters* directory = nullptr;
    const delegation::DelegationCounters* delegation = nullptr;
    const listener::SessionRegistry* sessions = nullptr;
    std::vector<const upstream::Upstream*> upstreams;
    const pipeline::DevicePolicy* policy = nullptr;
    const common::FailureTally* refusals = nullptr;
    const identity::CrlRefreshCounters* crl_refresh = nullptr;
    const listener::RequestMetrics* requests = nullptr;
    std::optional<std::size_t> directory_cache_entries = {};           // with a directory
    std::optional<std::size_t> delegation_cache_entries = {};          // with kerberos
    std::vector<const listener::ServerTlsContext*> listener_tls = {};  // listeners[i]'s, in order
};

// The gateway's counters as the admin endpoint's metric families, in the order /metrics lists them.
std::vector<admin::MetricFamily> collect_metrics(const MetricsSources& sources);

// Parts of collect_metrics (request_metrics.cpp): requests by command and status, the latency
// histograms, held long polls and cache sizes; then the certificate and CRL dates.
void collect_request_metrics(const MetricsSources& sources, std::vector<admin::MetricFamily>& out);
void collect_certificate_metrics(const MetricsSources& sources, std::vector<admin::MetricFamily>& out);

}  // namespace easgate::app
