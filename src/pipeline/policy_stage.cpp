#include "easgate/pipeline/policy_stage.hpp"

namespace easgate::pipeline {

boost::asio::awaitable<common::Result<>> PolicyStage::process(RequestContext& request) {
    const auto decision = policy_->decide(
        {request.identity, request.user ? &*request.user : nullptr, request.eas, request.peer});
    request.policy_rule = decision.rule;
    if (decision.action == config::PolicyAction::allow) co_return common::Result<>{};
    if (decision.rule == "default")
        co_return common::Failure::refused("denied by policy.default: no policy rule matched")
            .because("policy");
    co_return common::Failure::refused("denied by policy rule " + std::string(decision.rule))
        .because("policy");
}

}  // namespace easgate::pipeline
