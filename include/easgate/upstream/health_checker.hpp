#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <memory>
#include <vector>

#include "easgate/upstream/upstream.hpp"

namespace easgate::upstream {

// upstreams[].health_check: asks every server of the upstreams that have one for the check page
// (Exchange's anonymous /Microsoft-Server-ActiveSync/healthcheck.htm by default) each interval,
// and tells the upstream which servers pass. Runs on one executor until it is stopped.
class HealthChecker {
public:
    explicit HealthChecker(boost::asio::any_io_executor executor) : executor_(std::move(executor)) {}
    void start(const std::vector<std::shared_ptr<Upstream>>& upstreams);
    void stop() { *running_ = false; }

private:
    boost::asio::any_io_executor executor_;
    std::shared_ptr<bool> running_ = std::make_shared<bool>(true);
};

}  // namespace easgate::upstream
