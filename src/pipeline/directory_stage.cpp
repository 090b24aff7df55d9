#include "easgate/pipeline/directory_stage.hpp"

namespace easgate::pipeline {

boost::asio::awaitable<common::Result<>> DirectoryStage::process(RequestContext& request) {
    using common::Failure;
    if (!request.identity) co_return common::Result<>{};  // optional mode: Exchange authenticates
    const auto result = co_await directory_->find_by_upn(request.identity->principal_name());
    using directory::LookupOutcome;
    switch (result.outcome) {
        case LookupOutcome::found:
            request.user = result.user;
            co_return common::Result<>{};
        case LookupOutcome::unavailable:
            co_return Failure::unavailable("directory unavailable: " + result.detail);
        case LookupOutcome::not_found:
        case LookupOutcome::disabled:
        case LookupOutcome::not_delegable:
            co_return Failure::refused(result.detail);
    }
    co_return Failure::unavailable("directory answered with an unknown outcome");
}

}  // namespace easgate::pipeline
