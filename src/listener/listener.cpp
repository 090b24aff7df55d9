#include "easgate/listener/listener.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "easgate/common/accept_backoff.hpp"
#include "easgate/common/listen_socket.hpp"
#include "easgate/common/spawn_handlers.hpp"
#include "easgate/common/use_nothrow.hpp"
#include "easgate/config/config.hpp"
#include "easgate/config/units.hpp"

namespace easgate::listener {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

Listener::Listener(asio::io_context& accept_context, const tcp::endpoint& endpoint,
                   std::shared_ptr<ListenerRuntime> runtime, ExecutorPicker pick_worker)
    : acceptor_(accept_context), runtime_(std::move(runtime)), pick_worker_(std::move(pick_worker)) {
    common::listen_on(acceptor_, endpoint);
    where_ = acceptor_.local_endpoint().address().to_string() + ":" +
             std::to_string(acceptor_.local_endpoint().port());
}

void Listener::start() {
    running_ = true;
    asio::co_spawn(acceptor_.get_executor(), accept_loop(),
                   common::EndProcessOnFailure{"the device listener's accept loop"});
}

void Listener::stop() {
    boost::system::error_code ignored;
    acceptor_.close(ignored);
}

std::optional<std::string> Listener::not_accepting_reason() const {
    if (!running_ || !acceptor_.is_open()) return "the listener on " + where_ + " is not accepting";
    if (!accept_failure_.empty()) return "accepting on " + where_ + " fails: " + accept_failure_;
    return std::nullopt;
}

// Closing at once costs nothing; a TLS handshake and a 503 would cost what the limit protects.
// Devices retry with their own back-off, and HAProxy in front sends them to another node.
void Listener::refuse_over_capacity(tcp::socket& socket) {
    runtime_->sessions->count_refusal();
    boost::system::error_code ignored;
    const auto peer = socket.remote_endpoint(ignored);
    socket.close(ignored);
    const std::string reason =
        "limits.max_connections (" + std::to_string(runtime_->limits.max_connections) + ") reached";
    const long suppressed = runtime_->refusal_log->admit(reason);
    if (suppressed < 0) return;
    spdlog::warn("refused the connection from {}: {} device connections are open, {}{}",
                 peer.address().to_string(), runtime_->sessions->size(), reason,
                 common::suppressed_note(suppressed));
}

// As nginx does with its reusable connections: one that does no work for anyone (opening, or kept
// alive between requests) is worth less than a new one, once it has been so for reclaim_after.
// The new connection is taken at once; the one reclaimed closes on its own thread right after.
bool Listener::make_room(tcp::socket& socket) {
    auto oldest = runtime_->sessions->reclaim_oldest();
    if (!oldest.session) return false;
    oldest.session->reclaim();
    oldest.session.reset();  // reclaim() holds it now: let it end on its own thread
    const std::string reason = "limits.max_connections (" + std::to_string(runtime_->limits.max_connections) +
                               ") reached: closing the connections idle longest";
    const long suppressed = runtime_->refusal_log->admit(reason);
    if (suppressed < 0) return true;
    boost::system::error_code ignored;
    spdlog::warn(
        "{}: closed one idle for {} (opening, or kept alive between requests) to take the connection "
        "from {}; raise it if devices are many, else look for connections that never send a request{}",
        reason,
        config::format_duration(std::chrono::duration_cast<std::chrono::milliseconds>(oldest.idle_for)),
        socket.remote_endpoint(ignored).address().to_string(), common::suppressed_note(suppressed));
    return true;
}

asio::awaitable<void> Listener::accept_loop() {
    using easgate::common::use_nothrow;
    while (acceptor_.is_open()) {
        auto [ec, socket] = co_await acceptor_.async_accept(pick_worker_(), use_nothrow);
        if (ec == asio::error::operation_aborted) co_return;
        if (ec) {
            accept_failure_ = co_await common::pause_after_failed_accept(
                acceptor_.get_executor(), ec, *runtime_->refusal_log, "accepting a device connection failed");
            continue;
        }
        accept_failure_.clear();
        if (runtime_->sessions->full(runtime_->limits.max_connections) && !make_room(socket)) {
            refuse_over_capacity(socket);
            continue;
        }
        start_device_session(std::move(socket), runtime_);
    }
}

}  // namespace easgate::listener
