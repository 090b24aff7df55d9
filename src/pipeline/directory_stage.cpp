#include "easgate/pipeline/directory_stage.hpp"

namespace easgate::pipeline {

boost::asio::awaitable<Verdict> DirectoryStage::process(RequestContext& request) {
    if (!request.identity) co_return Verdict::proceed();  // optional mode: Exchange authenticates
    const auto result = co_await directory_->find_by_upn(request.identity->principal_name());
    using directory::LookupOutcome;
    switch (result.outcome) {
        case LookupOutcome::found:
            request.user = result.user;
            co_return Verdict::proceed();
        case LookupOutcome::unavailable:
            co_return Verdict::unavailable("directory unavailable: " + result.detail);
        case LookupOutcome::not_found:
        case LookupOutcome::disabled:
        case LookupOutcome::not_delegable:
            co_return Verdict::refuse(result.detail);
    }
    co_return Verdict::unavailable("directory answered with an unknown outcome");
}

}  // namespace easgate::pipeline
