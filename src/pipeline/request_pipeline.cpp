#include "easgate/pipeline/request_pipeline.hpp"

namespace easgate::pipeline {

boost::asio::awaitable<common::Result<>> RequestPipeline::run(RequestContext& request) const {
    for (const auto& stage : stages_) {
        auto verdict = co_await stage->process(request);
        if (!verdict) co_return verdict;
    }
    co_return common::Result<>{};
}

boost::asio::awaitable<common::Result<>> CertificateAuthStage::process(RequestContext& request) {
    if (request.identity) request.header.erase(http::field::authorization);
    co_return common::Result<>{};
}

}  // namespace easgate::pipeline
