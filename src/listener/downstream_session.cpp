#include <openssl/ssl.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/experimental/parallel_group.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/http.hpp>

#include "downstream_session_internal.hpp"
#include "easgate/common/read_buffer.hpp"
#include "easgate/common/spawn_handlers.hpp"
#include "easgate/common/use_nothrow.hpp"
#include "easgate/config/units.hpp"

namespace easgate::listener {
namespace {

using easgate::common::use_nothrow;
constexpr std::chrono::seconds tls_shutdown_timeout{2};
constexpr std::chrono::seconds lingering_time{30};  // nginx's default
using common::Failure;

}  // namespace

bool is_disconnect(const error_code& ec) {
    return ec == http::error::end_of_stream || ec == asio::error::eof ||
           ec == asio::ssl::error::stream_truncated || ec == asio::error::connection_reset ||
           ec == asio::error::broken_pipe || ec == beast::error::timeout ||
           ec == asio::error::operation_aborted;
}

DownstreamSession::DownstreamSession(tcp::socket socket, std::shared_ptr<ListenerRuntime> runtime)
    : runtime_(std::move(runtime)),
      limits_(runtime_->limits),
      stream_(std::move(socket), runtime_->tls->context()),
      exchange_(stream_.get_executor(), runtime_->upstream, limits_, runtime_->public_name) {
    buffer_.max_size(common::read_buffer_limit(limits_.max_header_bytes));
    error_code ignored;
    peer_ = tcp_stream().socket().remote_endpoint(ignored);
    handshake_due_ = std::chrono::steady_clock::now() + limits_.handshake_timeout;
}

DownstreamSession::~DownstreamSession() {
    if (registered_) runtime_->sessions->remove(*registered_);
    if (!user_slot_.empty()) runtime_->sessions->give_user_slot(user_slot_);
    give_opening_slot();
    if (phase_ == Phase::long_poll) runtime_->requests->long_poll_ended();  // ended while held
}

void DownstreamSession::start() {
    registered_ = runtime_->sessions->add(weak_from_this());
    asio::co_spawn(
        stream_.get_executor(), [self = shared_from_this()] { return self->run(); },
        common::LogFailure{"device connection from " + peer_text()});
}

void DownstreamSession::drain() {
    asio::post(stream_.get_executor(), [self = shared_from_this()] {
        self->draining_ = true;
        if (self->phase_ == Phase::idle) self->tcp_stream().cancel();    // between requests: close now
        if (self->phase_ == Phase::long_poll) self->exchange_.cancel();  // answered early, empty
    });
}

// Its socket shut down, whatever the session waits for (the handshake, a request's header) ends now
// and the session with it: at the next read or write, not at a timeout. The device sees the
// connection close, as when a kept-alive connection is closed idle.
void DownstreamSession::reclaim() {
    asio::post(stream_.get_executor(), [self = shared_from_this()] {
        self->reclaimed_ = true;
        error_code ignored;
        self->tcp_stream().socket().shutdown(tcp::socket::shutdown_both, ignored);
    });
}

asio::awaitable<void> DownstreamSession::run() {
    if (!co_await take_proxy_header() || !co_await handshake()) co_return;
    for (bool first = true; co_await serve_request(first) && !draining(); first = false) {
    }
    request_.reset();  // its header's memory, before the close's waits
    exchange_.close();
    if (answered_before_body_) co_await linger();
    // A close_notify would tell the device that what it got was all there is: an HTTP/1.0 device
    // reading an answer framed by the close would take a truncated one for whole. As nginx, the
    // connection just closes, its shutdown declared done so that OpenSSL keeps the session for
    // the device's retry.
    if (answer_broken_) {
        SSL_set_shutdown(stream_.native_handle(), SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
        co_return;
    }
    tcp_stream().expires_after(tls_shutdown_timeout);
    co_await stream_.async_shutdown(use_nothrow);
}

// easgate answered before it had read the whole request body (413, 403, 400…) and closes. Closing
// with the device's bytes still arriving makes the kernel answer them with a reset, which can
// destroy the answer before the phone reads it: the phone sees a broken connection and sends the
// upload again. As nginx's lingering close: what comes is read and dropped until the device closes
// or sends nothing for tls_shutdown_timeout, for at most lingering_time.
asio::awaitable<void> DownstreamSession::linger() {
    const auto until = std::chrono::steady_clock::now() + lingering_time;
    std::array<char, 4096> dropped;
    for (auto now = std::chrono::steady_clock::now(); now < until; now = std::chrono::steady_clock::now()) {
        tcp_stream().expires_after(
            std::min<std::chrono::steady_clock::duration>(tls_shutdown_timeout, until - now));
        auto [ec, read] = co_await stream_.async_read_some(asio::buffer(dropped), use_nothrow);
        if (ec) break;
    }
}

// One request: read and checked here, passed through the filter chain, its body read ahead, then
// handed to the UpstreamExchange for its trip to Exchange. False when the connection must end.
asio::awaitable<bool> DownstreamSession::serve_request(bool first) {
    auto& request = request_.emplace();
    const bool read = co_await read_request(first, request);
    give_opening_slot();  // its header is in: the connection is no longer opening
    if (!read) co_return false;
    auto& header = request.parser.get();
    pipeline::RequestContext context{check_.identity ? &*check_.identity : nullptr,
                                     header.base(),
                                     &request.eas,
                                     peer_.address(),
                                     {},
                                     {},
                                     {}};
    // Most requests are answered by the stages from what they have: no frame, no deadline, no watch.
    std::size_t next = 0;
    auto verdict = runtime_->pipeline->run_now(context, next);
    if (!verdict) verdict = co_await run_waiting_stages(context, next);
    request.policy_rule = context.policy_rule;
    request.account = context.user;
    request.delegation_time = context.delegation_time;
    if (context.credentials) request.ticket_from_cache = context.delegation_from_cache;
    if (!*verdict) {
        runtime_->refusals->count(verdict->error());
        co_await respond(verdict->error(), request, false);
        co_return false;
    }
    if (auto refusal = take_user_slot(context)) {
        runtime_->refusals->count(*refusal);
        co_await respond(*refusal, request, false);
        co_return false;
    }
    if (expects_continue(request) && !co_await send_continue(request)) co_return false;
    co_return co_await forward_request(request, context);
}

// An admitted request: its body read ahead, its header rewritten for Exchange, the trip. Apart from
// serve_request so that neither coroutine's frame is over the 1,020 bytes Asio recycles (a larger
// one is malloc'd and freed for every request).
asio::awaitable<bool> DownstreamSession::forward_request(AdmittedRequest& request,
                                                         const pipeline::RequestContext& context) {
    auto& header = request.parser.get();
    common::BodyBytes body;
    auto& body_rate = request.body_rate.emplace(limits_.min_body_rate, limits_.client_body_timeout);
    // Counted after the stages, which may have removed fields (the device's Authorization).
    const std::size_t header_fields = header.size();
    if (!co_await read_ahead(request, body, body_rate)) co_return false;
    const bool buffered = request.parser.is_done();
    // Beast adds a chunked body's trailer fields to the header; read ahead, they would go to
    // Exchange as header fields (a device's Authorization among them). Trailers mean nothing to
    // ActiveSync, so they are dropped (RFC 9110 6.5.1 lets a recipient discard them).
    while (header.size() > header_fields) header.erase(std::prev(header.end()));
    upstream::rewrite_request_for_upstream(header.base(), peer_address_, context.credentials != nullptr);
    upstream::DeviceRequest forwarded{stream_,
                                      buffer_,
                                      request.parser,
                                      std::move(body),
                                      buffered,
                                      request.framing,
                                      request.line,
                                      {},
                                      body_rate,
                                      context.credentials,
                                      std::string(context.connection_owner()),
                                      who()};
    forwarded.deadline = upstream::response_deadline(
        request.eas,
        {reinterpret_cast<const std::uint8_t*>(forwarded.read_ahead.data()), forwarded.read_ahead.size()},
        buffered, limits_);
    request.long_poll = forwarded.deadline.long_poll;
    request.forwarded = true;
    const auto end = co_await exchange_.forward(forwarded, *this);
    if (end.how != upstream::ExchangeEnd::How::relayed) co_return co_await end_of(end, request, body_rate);
    log_access(request, end.status, "", exchange_.trip().body_bytes);
    if (!request.parser.is_done()) answered_before_body_ = true;  // Exchange answered early: see linger()
    co_return end.keep_device;
}

// The filter chain runs under the request's deadline (limits.upstream_timeout) and is abandoned
// when the device goes away meanwhile: a slow directory or KDC then costs this request nothing more.
// What the device sends meanwhile (its body, typically) waits in buffer_ for the parser.
asio::awaitable<common::Result<>> DownstreamSession::run_waiting_stages(pipeline::RequestContext& context,
                                                                        std::size_t next) {
    namespace experimental = asio::experimental;
    stages_due_.expires_after(limits_.upstream_timeout);
    start_watching(limits_.max_header_bytes);
    auto [order, failure, verdict, timer_ec] =
        co_await experimental::make_parallel_group(
            asio::co_spawn(stream_.get_executor(), runtime_->pipeline->run(context, next), asio::deferred),
            stages_due_.async_wait(asio::deferred))
            .async_wait(experimental::wait_for_one(), asio::use_awaitable);
    co_await stop_watching();
    if (order[0] == 0) {
        if (failure) std::rethrow_exception(failure);
        co_return verdict;
    }
    if (device_left_)
        co_return Failure{
            client_closed_request,
            "the device went away while the directory and KDC were asked; nothing was forwarded", 0}
            .because("device_left");
    co_return Failure::unavailable("the directory and KDC did not answer within limits.upstream_timeout (" +
                                   config::format_duration(limits_.upstream_timeout) + ")")
        .because("deadline");
}

// What the device is told, and whether its connection goes on, once the exchange ended.
asio::awaitable<bool> DownstreamSession::end_of(const upstream::ExchangeEnd& end,
                                                const AdmittedRequest& request,
                                                const common::BodyRateGuard& rate) {
    using How = upstream::ExchangeEnd::How;
    switch (end.how) {
        case How::failed:
            co_await respond(*end.failure, request, end.keep_device);
            co_return end.keep_device;
        case How::device_body:
            co_await refuse_body(end.device_error, request, rate);
            co_return false;
        case How::drained:
            co_await answer_long_poll_early(request);
            co_return false;
        case How::broken:  // the device has part of the answer, or is gone
            answer_broken_ = true;
            log_access(request, end.device_error ? client_closed_request : end.status, end.failure->reason,
                       exchange_.trip().body_bytes);
            co_return false;
        case How::device_left:  // a phone that roams or gives up on its Ping: nginx's 499
            log_access(request, client_closed_request, "", 0);
            co_return false;
        case How::relayed:  // serve_request's own business
            co_return false;
    }
    co_return false;
}

asio::awaitable<void> DownstreamSession::respond(const common::Failure& failure,
                                                 const AdmittedRequest& request, bool keep_alive) {
    if (!keep_alive && !request.parser.is_done()) answered_before_body_ = true;  // see linger()
    const AnswerFraming framing{request.line.version, keep_alive, request.line.head};
    if (failure.cause == "policy") {
        if (auto blocked = eas::blocked_device_wbxml(request.eas)) {
            log_access(request, 200,
                       failure.reason + " (answered as Exchange answers a blocked device: Status 129)",
                       request.line.head ? 0 : blocked->size());
            co_return co_await write_answer(http::status::ok, "application/vnd.ms-sync.wbxml",
                                            std::move(*blocked), framing, 0);
        }
    }
    log_access(request, failure.status, failure.reason,
               request.line.head ? 0 : status_text(failure.status).size() + 1);
    co_await write_status(static_cast<http::status>(failure.status), framing, failure.retry_after_seconds);
}

asio::awaitable<void> DownstreamSession::write_status(http::status status, AnswerFraming framing,
                                                      unsigned retry_after_seconds) {
    co_await write_answer(status, "text/plain; charset=utf-8",
                          std::string(status_text(static_cast<unsigned>(status))) + "\n", framing,
                          retry_after_seconds);
}

asio::awaitable<void> DownstreamSession::write_answer(http::status status, const char* content_type,
                                                      std::string body, AnswerFraming framing,
                                                      unsigned retry_after_seconds) {
    http::response<http::string_body> response{status, framing.version};
    if (retry_after_seconds > 0) response.set(http::field::retry_after, std::to_string(retry_after_seconds));
    // RFC 9110 15.5.6: a 405 lists what the resource takes (easgate answers 405 only on ActiveSync's
    // and Autodiscover's paths).
    if (status == http::status::method_not_allowed) response.set(http::field::allow, activesync_methods);
    response.set(http::field::server, "easgate");
    response.set(http::field::content_type, content_type);
    response.body() = std::move(body);
    response.keep_alive(framing.keep_alive);
    response.prepare_payload();
    tcp_stream().expires_after(limits_.client_body_timeout);
    if (!framing.head) {
        co_await http::async_write(stream_, response, use_nothrow);
        co_return;
    }
    // A body after a HEAD's answer would be read as the next answer's start (RFC 9110 9.3.2).
    http::response_serializer<http::string_body> header_only{response};
    co_await http::async_write_header(stream_, header_only, use_nothrow);
}

// easgate is shutting down: an empty 200 ends the held Ping or Sync now, and the device issues
// it again at once, on a connection to another node.
asio::awaitable<void> DownstreamSession::answer_long_poll_early(const AdmittedRequest& request) {
    log_access(request, 200, "", 0);
    spdlog::info("{}: held long poll answered early: easgate is shutting down", who());
    http::response<http::empty_body> response{http::status::ok, request.line.version};
    response.set(http::field::server, "easgate");
    response.content_length(0);
    response.keep_alive(false);
    tcp_stream().expires_after(limits_.client_body_timeout);
    co_await http::async_write(stream_, response, use_nothrow);
}

// A held Ping costs Exchange a request slot for up to an hour: when the phone goes away (or
// roams and reconnects), the upstream request is cancelled at once instead of at its deadline.
// A TLS read is the only way to tell: in TLS 1.3 even close_notify is an encrypted record.
// Bytes that arrive start a pipelined request: they are kept in buffer_ for the next request,
// and the watch goes on (up to limits.max_header_bytes of them), so a device that pipelines and
// then leaves is still seen leaving. A byte at a time, so a held Ping keeps no read buffer of its own.
void DownstreamSession::watch() {
    phase_ = Phase::long_poll;
    runtime_->requests->long_poll_started();
    if (buffer_.size() == 0) buffer_.shrink_to_fit();  // what the request's header needed, idle for long
    start_watching(1);
}

void DownstreamSession::start_watching(std::size_t read_bytes) {
    if (buffer_.size() >= limits_.max_header_bytes) return;  // no room: the device is not watched
    tcp_stream().expires_never();  // the wait is bounded by the deadline of what is waited for
    watch_read_bytes_ = read_bytes;
    watch_pending_ = true;
    watch_stopping_ = false;
    read_while_watching();
}

void DownstreamSession::read_while_watching() {
    const std::size_t room = limits_.max_header_bytes - std::min(buffer_.size(), limits_.max_header_bytes);
    const auto into = buffer_.prepare(std::min(watch_read_bytes_, beast::read_size(buffer_, room)));
    stream_.async_read_some(into, [self = shared_from_this()](const error_code& ec, std::size_t n) {
        self->buffer_.commit(n);
        if (!ec && !self->watch_stopping_ && self->buffer_.size() < self->limits_.max_header_bytes)
            return self->read_while_watching();
        self->watch_pending_ = false;
        self->watch_done_.cancel();
        if (!ec || ec == asio::error::operation_aborted) return;
        self->device_left_ = true;
        self->exchange_.cancel();
        self->stages_due_.cancel();
    });
}

// Cancels the watch and waits until it has completed: two reads must never be pending on one
// TLS stream, and the next request's read follows.
asio::awaitable<void> DownstreamSession::stop_watching() {
    if (phase_ == Phase::long_poll) runtime_->requests->long_poll_ended();
    phase_ = Phase::busy;
    if (!watch_pending_) co_return;
    watch_stopping_ = true;
    error_code ignored;
    tcp_stream().socket().cancel(ignored);  // only the watch is pending on the device socket
    watch_done_.expires_at(asio::steady_timer::time_point::max());
    co_await watch_done_.async_wait(use_nothrow);  // ends when the watch's handler cancels it
}

void start_device_session(tcp::socket socket, std::shared_ptr<ListenerRuntime> runtime) {
    std::make_shared<DownstreamSession>(std::move(socket), std::move(runtime))->start();
}

}  // namespace easgate::listener
