#include "easgate/common/resolve.hpp"

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/error.hpp>

#include "easgate/common/use_nothrow.hpp"

namespace easgate::common {

namespace asio = boost::asio;

asio::awaitable<ResolveResult> resolve_before(const std::string& host, const std::string& port,
                                              std::chrono::steady_clock::time_point deadline) {
    const auto executor = co_await asio::this_coro::executor;
    asio::ip::tcp::resolver resolver(executor);
    asio::steady_timer resolve_deadline(executor, deadline);
    resolve_deadline.async_wait([&resolver](const boost::system::error_code& ec) {
        if (!ec) resolver.cancel();  // completes the lookup with operation_aborted
    });
    auto [ec, endpoints] = co_await resolver.async_resolve(host, port, use_nothrow);
    // Nothing left to cancel: the deadline fired, and it was what aborted the lookup.
    const bool deadline_fired = resolve_deadline.cancel() == 0;
    if (deadline_fired && ec == asio::error::operation_aborted) ec = boost::beast::error::timeout;
    co_return ResolveResult{ec, std::move(endpoints)};
}

}  // namespace easgate::common
