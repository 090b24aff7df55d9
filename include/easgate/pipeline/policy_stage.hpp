#pragma once

#include <memory>

#include "easgate/pipeline/device_policy.hpp"
#include "easgate/pipeline/request_pipeline.hpp"

namespace easgate::pipeline {

// Issue 11 §5: after the directory stage (groups come from it), before delegation (a denied device
// costs the KDC nothing). A denial is a 403: see "Device policy" in docs/admin-guide.md for why
// not Exchange's Status 129. The deciding rule's name goes on the request for the access log.
class PolicyStage final : public RequestStage {
public:
    explicit PolicyStage(std::shared_ptr<const DevicePolicy> policy) : policy_(std::move(policy)) {}
    std::optional<common::Result<>> decide_now(RequestContext& request) override;

private:
    std::shared_ptr<const DevicePolicy> policy_;
};

}  // namespace easgate::pipeline
