#include "easgate/admin/admin_server.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <nlohmann/json.hpp>

#include "easgate/common/accept_backoff.hpp"
#include "easgate/common/listen_socket.hpp"
#include "easgate/common/spawn_handlers.hpp"
#include "easgate/common/use_nothrow.hpp"

namespace easgate::admin {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {

using easgate::common::use_nothrow;
constexpr std::chrono::seconds request_timeout{10};
// Monitoring needs a few at once. Each holds a file descriptor for up to request_timeout: without a
// bound, a flood of idle connections to the admin port would take the descriptors devices need.
constexpr std::size_t max_admin_connections = 64;

http::response<http::string_body> answer(const http::request<http::empty_body>& request,
                                         const MetricsSource& metrics,
                                         const AdminServer::ReadinessCheck& healthz,
                                         const AdminServer::ReadinessCheck& readyz) {
    http::response<http::string_body> response{http::status::ok, request.version()};
    response.set(http::field::content_type, "text/plain; charset=utf-8");
    const auto path = request.target().substr(0, request.target().find('?'));
    if (request.method() != http::verb::get && request.method() != http::verb::head) {
        response.result(http::status::method_not_allowed);
        response.set(http::field::allow, "GET, HEAD");
        response.body() = "only GET\n";
    } else if (path == "/metrics") {
        response.set(http::field::content_type, "text/plain; version=0.0.4; charset=utf-8");
        response.body() = render_metrics(metrics());
    } else if (path == "/healthz") {
        if (const auto reasons = healthz(); !reasons.empty()) {
            response.result(http::status::service_unavailable);
            response.body() = "not ready: " + reasons.front() + "\n";
        } else {
            response.body() = "ok\n";
        }
    } else if (path == "/readyz") {
        const auto reasons = readyz();
        if (!reasons.empty()) response.result(http::status::service_unavailable);
        response.set(http::field::content_type, "application/json");
        nlohmann::json body{{"ready", reasons.empty()}};
        if (!reasons.empty()) body["reasons"] = reasons;
        response.body() = body.dump() + "\n";
    } else {
        response.result(http::status::not_found);
        response.body() = "not found: try /metrics, /healthz or /readyz\n";
    }
    response.keep_alive(false);
    response.prepare_payload();
    // HEAD: the header a GET gets, Content-Length included, and no body (RFC 9110 9.3.2).
    if (request.method() == http::verb::head) response.body().clear();
    return response;
}

}  // namespace

AdminServer::AdminServer(asio::io_context& context, const tcp::endpoint& endpoint, MetricsSource metrics,
                         ReadinessCheck healthz, ReadinessCheck readyz)
    : acceptor_(context),
      metrics_(std::move(metrics)),
      healthz_(std::move(healthz)),
      readyz_(std::move(readyz)) {
    common::listen_on(acceptor_, endpoint);
}

void AdminServer::start() {
    asio::co_spawn(acceptor_.get_executor(), accept_loop(),
                   common::EndProcessOnFailure{"the admin endpoint's accept loop"});
}

void AdminServer::stop() {
    boost::system::error_code ignored;
    acceptor_.close(ignored);
}

asio::awaitable<void> AdminServer::accept_loop() {
    while (acceptor_.is_open()) {
        auto [ec, socket] = co_await acceptor_.async_accept(use_nothrow);
        if (ec == asio::error::operation_aborted) co_return;
        if (ec) {
            co_await common::pause_after_failed_accept(acceptor_.get_executor(), ec, accept_log_,
                                                       "admin: accepting a connection failed");
            continue;
        }
        if (open_ >= max_admin_connections) {
            const bool room = close_oldest_waiting();
            if (const long suppressed = full_log_.admit(room ? "full, one closed" : "full"); suppressed >= 0)
                spdlog::warn(
                    "admin: {} connections are open, the most the admin endpoint serves at once; {} "
                    "({} more since the last such line)",
                    max_admin_connections,
                    room ? "closing the oldest one that has sent no request yet for the new one"
                         : "closing new ones until some end",
                    suppressed);
            if (!room) {
                socket.close(ec);
                continue;
            }
        }
        ++open_;
        asio::co_spawn(acceptor_.get_executor(), serve(std::move(socket)),
                       [this](const std::exception_ptr& failure) {
                           --open_;
                           common::LogFailure{"an admin request"}(failure);
                       });
    }
}

bool AdminServer::close_oldest_waiting() {
    for (beast::tcp_stream* stream : waiting_) {
        if (!stream->socket().is_open()) continue;  // closed already, its coroutine not yet resumed
        boost::system::error_code ignored;
        stream->socket().close(ignored);  // its descriptor is free now; its read ends aborted
        return true;
    }
    return false;
}

asio::awaitable<void> AdminServer::serve(tcp::socket socket) {
    beast::tcp_stream stream(std::move(socket));
    beast::flat_buffer buffer;
    http::request_parser<http::empty_body> parser;
    parser.header_limit(8 * 1024);
    stream.expires_after(request_timeout);
    // The header is all that matters; a body (never expected) is left unread and the connection closed.
    const auto waiting = waiting_.insert(waiting_.end(), &stream);
    auto [read_ec, read] = co_await http::async_read_header(stream, buffer, parser, use_nothrow);
    waiting_.erase(waiting);
    if (read_ec) co_return;  // a scanner, a closed probe, or closed for a newer connection: no log line
    auto response = answer(parser.get(), metrics_, healthz_, readyz_);
    stream.expires_after(request_timeout);
    co_await http::async_write(stream, response, use_nothrow);
    boost::system::error_code ignored;
    stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
}

}  // namespace easgate::admin
