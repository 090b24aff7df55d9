#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <memory>
#include <vector>

#include "easgate/upstream/upstream.hpp"

namespace easgate::upstream {

// What runs beside the requests for the upstreams a start or reload brought (those not among
// `replaced`, the ones before it), on executor until its event loop stops or the upstream is gone:
// - the lookups of their servers' names (start_address_refresh), taking over the addresses
//   `replaced` knew;
// - upstreams[].health_check: every server of the upstreams that have one is asked for the check
//   page (Exchange's anonymous /Microsoft-Server-ActiveSync/healthcheck.htm by default) each
//   interval, and the upstream told which servers pass.
void start_upstream_watch(const boost::asio::any_io_executor& executor,
                          const std::vector<std::shared_ptr<Upstream>>& upstreams,
                          const std::vector<std::shared_ptr<Upstream>>& replaced);

}  // namespace easgate::upstream
