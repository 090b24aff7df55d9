#include "easgate/pipeline/request_pipeline.hpp"

namespace easgate::pipeline {

boost::asio::awaitable<Verdict> RequestPipeline::run(RequestContext& request) const {
    for (const auto& stage : stages_) {
        auto verdict = co_await stage->process(request);
        if (!verdict.proceeds()) co_return verdict;
    }
    co_return Verdict::proceed();
}

boost::asio::awaitable<Verdict> CertificateAuthStage::process(RequestContext& request) {
    if (request.identity) request.header.erase(http::field::authorization);
    co_return Verdict::proceed();
}

}  // namespace easgate::pipeline
