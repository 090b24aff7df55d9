#include "easgate/pipeline/request_pipeline.hpp"

namespace easgate::pipeline {

boost::asio::awaitable<common::Result<>> RequestStage::process(RequestContext& request) {
    co_return decide_now(request).value();
}

std::string_view RequestContext::connection_owner() const {
    // The account, never to be another's: a DN, like a name, passes to a new account when its
    // holder leaves, and an Exchange connection authenticated as the leaver must not serve it.
    if (user) return user->object_sid.empty() ? user->distinguished_name : user->object_sid;
    return identity ? std::string_view(identity->principal_name()) : std::string_view();
}

std::optional<common::Result<>> RequestPipeline::run_now(RequestContext& request, std::size_t& next) const {
    for (next = 0; next < stages_.size(); ++next) {
        auto verdict = stages_[next]->decide_now(request);
        if (!verdict) return std::nullopt;
        if (!*verdict) return verdict;
    }
    return common::Result<>{};
}

boost::asio::awaitable<common::Result<>> RequestPipeline::run(RequestContext& request,
                                                              std::size_t from) const {
    for (std::size_t stage = from; stage < stages_.size(); ++stage) {
        auto verdict = co_await stages_[stage]->process(request);
        if (!verdict) co_return verdict;
    }
    co_return common::Result<>{};
}

std::optional<common::Result<>> CertificateAuthStage::decide_now(RequestContext& request) {
    if (request.identity) request.header.erase(http::field::authorization);
    return common::Result<>{};
}

}  // namespace easgate::pipeline
