#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "easgate/admin/metrics.hpp"
#include "easgate/common/logging.hpp"

namespace easgate::admin {

// The operators' HTTP endpoint (admin.listen, plain HTTP, meant for loopback or a management
// network): GET /metrics (Prometheus); GET /healthz (200 "ok", or 503 "not ready: <reason>" while
// easgate can't serve users, e.g. an accept loop stopped or no login to the KDC yet); GET /readyz
// for load balancers (200 {"ready":true}, or 503 {"ready":false,"reasons":[…]} while anything a
// request needs is failing: listeners, KDC, directory, every Exchange server). One request per
// connection, at most 64 at once (more are closed at once); it runs on the accept thread, never on
// a device connection's worker.
class AdminServer {
public:
    using ReadinessCheck = std::function<std::vector<std::string>()>;  // empty: ready; else why not

    // Binds now, so a taken port fails at start with a clear message. healthz answers 503 with the
    // first of its reasons; readyz with all of its own.
    AdminServer(boost::asio::io_context& context, const boost::asio::ip::tcp::endpoint& endpoint,
                MetricsSource metrics, ReadinessCheck healthz, ReadinessCheck readyz);

    void start();
    void stop();
    boost::asio::ip::tcp::endpoint local_endpoint() const { return acceptor_.local_endpoint(); }

private:
    boost::asio::awaitable<void> accept_loop();
    boost::asio::awaitable<void> serve(boost::asio::ip::tcp::socket socket);

    boost::asio::ip::tcp::acceptor acceptor_;
    MetricsSource metrics_;
    ReadinessCheck healthz_;
    ReadinessCheck readyz_;
    std::size_t open_ = 0;  // connections being served; on the accept thread only
    common::LogRateLimiter full_log_{std::chrono::minutes(1)};
};

}  // namespace easgate::admin
