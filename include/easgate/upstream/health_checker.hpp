#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <memory>
#include <vector>

#include "easgate/upstream/upstream.hpp"

namespace easgate::upstream {

// upstreams[].health_check: asks every server of the upstreams that have one for the check page
// (Exchange's anonymous /Microsoft-Server-ActiveSync/healthcheck.htm by default) each interval,
// and tells the upstream which servers pass. The checks run on executor until its event loop stops
// or the upstream is gone.
void start_health_checks(const boost::asio::any_io_executor& executor,
                         const std::vector<std::shared_ptr<Upstream>>& upstreams);

}  // namespace easgate::upstream
