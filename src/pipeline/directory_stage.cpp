#include "easgate/pipeline/directory_stage.hpp"

namespace easgate::pipeline {
namespace {

// The user found goes into the request for later stages; a failure is the device's answer.
common::Result<> take(RequestContext& request, directory::UserLookup user) {
    if (!user) {
        auto failure = user.error();
        if (failure.status == 503) failure.reason = "directory unavailable: " + failure.reason;
        return failure;
    }
    request.user = std::move(*user);
    return {};
}

}  // namespace

std::optional<common::Result<>> DirectoryStage::decide_now(RequestContext& request) {
    if (!request.identity) return common::Result<>{};  // optional mode: Exchange authenticates
    auto mapped = mapping_->find_account_now(*request.identity);
    if (!mapped) return std::nullopt;
    return take(request, std::move(mapped->account));
}

boost::asio::awaitable<common::Result<>> DirectoryStage::process(RequestContext& request) {
    if (!request.identity) co_return common::Result<>{};
    co_return take(request, (co_await mapping_->find_account(*request.identity)).account);
}

}  // namespace easgate::pipeline
