#pragma once

#include <vector>

#include "easgate/admin/metrics.hpp"
#include "easgate/common/failure_tally.hpp"
#include "easgate/delegation/delegation_service.hpp"
#include "easgate/directory/directory_client.hpp"
#include "easgate/identity/revocation_store.hpp"
#include "easgate/listener/session_registry.hpp"
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
};

// The gateway's counters as the admin endpoint's metric families, in the order /metrics lists them.
std::vector<admin::MetricFamily> collect_metrics(const MetricsSources& sources);

}  // namespace easgate::app
