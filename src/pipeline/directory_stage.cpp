#include "easgate/pipeline/directory_stage.hpp"

namespace easgate::pipeline {

boost::asio::awaitable<common::Result<>> DirectoryStage::process(RequestContext& request) {
    if (!request.identity) co_return common::Result<>{};  // optional mode: Exchange authenticates
    auto user = co_await directory_->find_by_upn(request.identity->principal_name());
    if (!user) {
        auto failure = user.error();
        if (failure.status == 503) failure.reason = "directory unavailable: " + failure.reason;
        co_return failure;
    }
    request.user = std::move(*user);
    co_return common::Result<>{};
}

}  // namespace easgate::pipeline
