// Which connection an exchange uses: an idle one of the user's, else a new one to the first
// server of the upstream that answers.
#include <spdlog/spdlog.h>

#include "easgate/upstream/idle_pool.hpp"
#include "easgate/upstream/upstream.hpp"
#include "easgate/upstream/upstream_exchange.hpp"

namespace easgate::upstream {

namespace asio = boost::asio;

// Connects to the first server of the upstream that answers. A failed connect sent nothing of
// the request, so trying the next server is always safe.
asio::awaitable<std::optional<UpstreamFailure>> UpstreamExchange::connect(const std::string& user,
                                                                          std::string_view who) {
    auto& pool = *upstream_;
    std::vector<bool> tried(pool.server_count());
    bool resting_tried = false;
    std::optional<UpstreamFailure> failure;
    while (const auto pick = pool.pick_server(tried, user, resting_tried, limits_.upstream_connect_timeout)) {
        const std::size_t server = pick->server;
        tried[server] = true;
        resting_tried = resting_tried || pick->resting;
        {
            // Counted while it connects too: a burst of new connections spreads over the servers.
            const InFlight connecting(pool, server);
            failure = co_await connection_.open(pool, server, limits_.upstream_connect_timeout);
        }
        // Connected is not yet served: the answer says whether the server works (judge_server).
        if (!failure) co_return std::nullopt;
        if (failure->local) co_return failure;
        pool.record_failure(server, failure->reason);
        // Said only when another will be tried: not when the rest are resting and one was tried.
        bool another = false;
        for (std::size_t i = 0; i < tried.size(); ++i)
            another = another || (!tried[i] && (!resting_tried || pool.serving(i)));
        if (another) spdlog::warn("{}: {}; trying the next server", who, failure->reason);
    }
    co_return failure;
}

// With a certificate, upstream connections are the user's, not the device connection's: an idle
// one of this user (from any of their devices on this worker) is taken, and given back after
// each response. Without one (optional mode) the device's own credentials went upstream, and
// the connection stays with the device connection.
bool UpstreamExchange::take_idle(const std::string& user) {
    if (user.empty() || connection_.is_open()) return false;
    auto& pool = IdleConnectionPool::for_this_thread();
    auto routed = upstream_->routed_server(user);
    if (routed && !upstream_->may_reuse(*routed)) routed.reset();  // as pick_server passes it over
    auto idle = pool.take(*upstream_, user, routed);
    if (!idle) return false;
    connection_ = std::move(*idle);
    return true;
}

void UpstreamExchange::release(const std::string& user) {
    if (user.empty() || !connection_.is_open()) return;
    auto& pool = IdleConnectionPool::for_this_thread();
    pool.give(upstream_, user, std::exchange(connection_, UpstreamConnection(executor_)));
}

}  // namespace easgate::upstream
