#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <functional>
#include <list>
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
// connection, at most 64 at once: a new one beyond them takes the place of the oldest that has sent
// no request yet (a monitor sends its request at once, so idle connections can't keep it out), or
// is closed when each is being answered. It runs on the accept thread, never on a device
// connection's worker.
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
    // Closes the oldest connection still waiting for its request; false when there is none.
    bool close_oldest_waiting();

    boost::asio::ip::tcp::acceptor acceptor_;
    MetricsSource metrics_;
    ReadinessCheck healthz_;
    ReadinessCheck readyz_;
    std::size_t open_ = 0;                          // connections being served; on the accept thread only
    std::list<boost::beast::tcp_stream*> waiting_;  // of those, the ones reading their request, oldest first
    common::LogRateLimiter full_log_{std::chrono::minutes(1)};
    common::LogRateLimiter accept_log_;
};

}  // namespace easgate::admin
