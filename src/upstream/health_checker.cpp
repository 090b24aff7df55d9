#include "easgate/upstream/health_checker.hpp"

#include <algorithm>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/http.hpp>

#include "easgate/common/spawn_handlers.hpp"
#include "easgate/common/use_nothrow.hpp"

namespace easgate::upstream {
namespace {

namespace asio = boost::asio;
namespace http = boost::beast::http;
using easgate::common::use_nothrow;

// One check: connect, GET the page, expect 200. An empty string when it passed, else why not.
asio::awaitable<std::string> check_once(Upstream& upstream, std::size_t server,
                                        const config::UpstreamConfig::HealthCheck& check) {
    UpstreamConnection connection(co_await asio::this_coro::executor);
    if (auto failure = co_await connection.open(upstream, server, check.timeout)) co_return failure->reason;
    http::request<http::empty_body> request{http::verb::get, check.path, 11};
    request.set(http::field::host, connection.target().host_header());
    request.set(http::field::user_agent, "easgate-health-check");
    request.keep_alive(false);
    http::response<http::string_body> response;
    connection.tcp().expires_after(check.timeout);
    auto [write_ec, written] = co_await connection.visit(
        [&](auto& stream) { return http::async_write(stream, request, use_nothrow); });
    if (write_ec) co_return "sending the check failed: " + write_ec.message();
    auto [read_ec, read] = co_await connection.visit(
        [&](auto& stream) { return http::async_read(stream, connection.buffer(), response, use_nothrow); });
    if (read_ec) co_return "no answer to GET " + check.path + ": " + read_ec.message();
    if (response.result() != http::status::ok)
        co_return "GET " + check.path + " answered " + std::to_string(response.result_int());
    co_return std::string();
}

// Held weakly between checks: an upstream a reload replaced is checked until no connection uses it.
asio::awaitable<void> check_forever(std::weak_ptr<Upstream> weak, std::size_t server) {
    asio::steady_timer pause(co_await asio::this_coro::executor);
    for (;;) {
        {
            const auto upstream = weak.lock();
            if (!upstream) co_return;
            const auto check = *upstream->health_check();
            const auto failure = co_await check_once(*upstream, server, check);
            upstream->record_health_check(server, failure.empty(), failure);
            pause.expires_after(check.interval);
        }
        co_await pause.async_wait(use_nothrow);
    }
}

}  // namespace

void start_upstream_watch(const asio::any_io_executor& executor,
                          const std::vector<std::shared_ptr<Upstream>>& upstreams,
                          const std::vector<std::shared_ptr<Upstream>>& replaced) {
    std::vector<std::shared_ptr<Upstream>> brought;
    for (const auto& upstream : upstreams)
        if (std::find(replaced.begin(), replaced.end(), upstream) == replaced.end())
            brought.push_back(upstream);
    start_address_refresh(executor, brought, replaced);
    for (const auto& upstream : brought) {
        if (!upstream->health_check()) continue;
        for (std::size_t server = 0; server < upstream->server_count(); ++server)
            asio::co_spawn(executor, check_forever(upstream, server),
                           common::LogFailure{"health check of " + upstream->server(server).url});
    }
}

}  // namespace easgate::upstream
