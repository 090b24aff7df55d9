#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <memory>
#include <string>
#include <vector>

#include "easgate/common/failure_tally.hpp"
#include "easgate/common/ip_network.hpp"
#include "easgate/common/logging.hpp"
#include "easgate/config/config.hpp"
#include "easgate/listener/request_metrics.hpp"
#include "easgate/listener/session_registry.hpp"
#include "easgate/listener/tls_context.hpp"
#include "easgate/pipeline/request_pipeline.hpp"
#include "easgate/upstream/upstream.hpp"

namespace easgate::listener {

// Everything the connections of one listener share. Immutable once built, so a reload can build a
// new one while connections keep the one they started with.
struct ListenerRuntime {
    config::LimitsConfig limits;
    std::string public_name;  // listeners[].public_name: the host in rewritten 451 locations
    std::shared_ptr<ServerTlsContext> tls;
    std::shared_ptr<upstream::Upstream> upstream;
    std::shared_ptr<const pipeline::RequestPipeline> pipeline;
    std::shared_ptr<common::LogRateLimiter> refusal_log;
    std::shared_ptr<SessionRegistry> sessions;  // shared by all listeners
    // What the filter chain answered itself; the gateway shares one among all listeners.
    std::shared_ptr<common::FailureTally> refusals = std::make_shared<common::FailureTally>();
    // Requests by command and status, their durations, held long polls; shared like refusals.
    std::shared_ptr<RequestMetrics> requests = std::make_shared<RequestMetrics>();
    // listeners[].proxy_protocol: each connection starts with a PROXY header naming the device,
    // taken only from trusted_proxies.
    bool proxy_protocol = false;
    std::vector<common::IpNetwork> trusted_proxies = {};
};

// Serves one device connection (TLS handshake, then requests until either side closes) on the
// socket's executor. The session owns itself for as long as the connection lives.
void start_device_session(boost::asio::ip::tcp::socket socket, std::shared_ptr<ListenerRuntime> runtime);

}  // namespace easgate::listener
