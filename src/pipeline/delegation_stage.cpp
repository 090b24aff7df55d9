#include "easgate/pipeline/delegation_stage.hpp"

namespace easgate::pipeline {

boost::asio::awaitable<Verdict> DelegationStage::process(RequestContext& request) {
    if (!request.identity) co_return Verdict::proceed();  // optional mode: the device's own credentials
    // Impersonate the directory's canonical name: the enterprise form (the UPN) would stay in the
    // ticket as "alice@corp.example.com@REALM". The configuration requires the directory stage.
    if (!request.user)
        co_return Verdict::unavailable("no directory entry for " + request.identity->principal_name());
    const auto result =
        co_await delegation_->negotiate_token(request.user->sam_account_name + "@" + realm_, target_spn_);
    switch (result.failure) {
        case delegation::DelegationFailure::none:
            request.header.set(http::field::authorization, "Negotiate " + result.negotiate_token);
            co_return Verdict::proceed();
        case delegation::DelegationFailure::user_refused:
            co_return Verdict::refuse(result.detail);
        case delegation::DelegationFailure::infrastructure:
            co_return Verdict::unavailable(result.detail);
    }
    co_return Verdict::unavailable("delegation answered with an unknown outcome");
}

}  // namespace easgate::pipeline
