#include "easgate/pipeline/policy_stage.hpp"

namespace easgate::pipeline {
namespace {

std::string denial_reason(std::string_view rule, const RequestContext& request) {
    if (rule == "default") return "denied by policy.default: no policy rule matched";
    const auto device = [&] { return "device " + (request.eas ? request.eas->device_id : std::string()); };
    const auto account = [&] {
        return request.user ? request.user->distinguished_name : std::string("the user");
    };
    if (rule == config::exchange_blocked_devices_rule)
        return "denied: " + device() + " is in msExchMobileBlockedDeviceIDs of " + account() +
               " (Exchange's blocked devices; policy.use_exchange_device_lists)";
    if (rule == config::exchange_allowed_devices_rule)
        return "denied: " + device() + " is not in msExchMobileAllowedDeviceIDs of " + account() +
               " (Exchange's allowed devices; policy.use_exchange_device_lists)";
    return "denied by policy rule " + std::string(rule);
}

}  // namespace

std::optional<common::Result<>> PolicyStage::decide_now(RequestContext& request) {
    const auto decision = policy_->decide({request.identity, request.user.get(), request.eas, request.peer});
    request.policy_rule = decision.rule;
    if (decision.action == config::PolicyAction::allow) return common::Result<>{};
    return common::Result<>{
        common::Failure::refused(denial_reason(decision.rule, request)).because("policy")};
}

}  // namespace easgate::pipeline
