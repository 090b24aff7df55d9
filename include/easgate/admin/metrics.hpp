#pragma once

#include <string>

#include "easgate/delegation/delegation_service.hpp"
#include "easgate/directory/directory_client.hpp"
#include "easgate/listener/session_registry.hpp"
#include "easgate/upstream/upstream.hpp"

namespace easgate::admin {

// What /metrics reports; a null source is a stage that is not configured and is left out.
struct MetricsSources {
    const directory::DirectoryCounters* directory = nullptr;
    const delegation::DelegationCounters* delegation = nullptr;
    const listener::SessionRegistry* sessions = nullptr;
    std::vector<const upstream::Upstream*> upstreams;
};

// The Prometheus text exposition format (version 0.0.4) of the gateway's counters.
std::string render_metrics(const MetricsSources& sources);

}  // namespace easgate::admin
