#include "easgate/listener/device_session.hpp"

#include <openssl/ssl.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/read_size.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <tuple>
#include <vector>

#include "easgate/common/body_relay.hpp"
#include "easgate/common/spawn_handlers.hpp"
#include "easgate/config/units.hpp"
#include "easgate/eas/eas_request.hpp"
#include "easgate/listener/request_framing.hpp"
#include "easgate/listener/response_deadline.hpp"
#include "easgate/upstream/backend_diagnosis.hpp"
#include "easgate/upstream/header_rewrite.hpp"
#include "easgate/upstream/idle_pool.hpp"
#include "easgate/upstream/mailbox_redirect.hpp"

namespace easgate::listener {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using error_code = boost::system::error_code;

constexpr auto use_nothrow = asio::as_tuple(asio::use_awaitable);
constexpr std::size_t relay_chunk_bytes = 64 * 1024;
constexpr std::uint32_t upstream_header_limit = 64 * 1024;
constexpr std::chrono::seconds tls_shutdown_timeout{2};
// With a 503 for a failure of ours or Exchange's: EAS clients wait this long before trying again.
constexpr unsigned retry_after_seconds = 30;

// The other side went away or went quiet: nothing to answer and nothing worth a warning.
bool is_disconnect(const error_code& ec) {
    return ec == http::error::end_of_stream || ec == asio::error::eof ||
           ec == asio::ssl::error::stream_truncated || ec == asio::error::connection_reset ||
           ec == asio::error::broken_pipe || ec == beast::error::timeout ||
           ec == asio::error::operation_aborted;
}

// What the access log and the error answers need of a request, kept after its header is rewritten.
struct RequestLine {
    std::string method;
    std::string target;
    std::string host;  // as the device wrote it: the name it uses for easgate
    unsigned version;
    bool keep_alive;
    bool head;
};

// What a session is doing, for a shutdown: an idle connection closes at once, a held long poll is
// answered early, a request in flight finishes first.
enum class Phase { idle, busy, long_poll };

class DeviceSession : public DrainableSession, public std::enable_shared_from_this<DeviceSession> {
public:
    DeviceSession(tcp::socket socket, std::shared_ptr<ListenerRuntime> runtime)
        : runtime_(std::move(runtime)),
          limits_(runtime_->limits),
          stream_(std::move(socket), runtime_->tls->context()),
          upstream_(stream_.get_executor()) {
        error_code ignored;
        peer_ = tcp_stream().socket().remote_endpoint(ignored);
    }

    ~DeviceSession() override {
        if (registered_) runtime_->sessions->remove(*registered_);
    }

    void start() {
        registered_ = runtime_->sessions->add(weak_from_this());
        asio::co_spawn(
            stream_.get_executor(), [self = shared_from_this()] { return self->run(); },
            common::LogFailure{"device connection from " + peer_text()});
    }

    void drain() override {
        asio::post(stream_.get_executor(), [self = shared_from_this()] {
            self->draining_ = true;
            if (self->phase_ == Phase::idle) self->tcp_stream().cancel();    // between requests: close now
            if (self->phase_ == Phase::long_poll) self->upstream_.cancel();  // answered early, empty
        });
    }

private:
    beast::tcp_stream& tcp_stream() { return beast::get_lowest_layer(stream_); }

    asio::awaitable<void> run() {
        if (!co_await handshake()) co_return;
        for (bool first = true; co_await serve_request(first) && !draining(); first = false) {
        }
        upstream_.close();
        tcp_stream().expires_after(tls_shutdown_timeout);
        co_await stream_.async_shutdown(use_nothrow);
    }

    asio::awaitable<bool> handshake() {
        error_code ignored;
        tcp_stream().socket().set_option(tcp::no_delay(true), ignored);
        tcp_stream().socket().set_option(asio::socket_base::keep_alive(true), ignored);
        runtime_->tls->verify_into(stream_.native_handle(), check_);
        tcp_stream().expires_after(limits_.header_timeout);
        auto [ec] = co_await stream_.async_handshake(asio::ssl::stream_base::server, use_nothrow);
        if (ec) {
            log_refused_handshake(ec);
            co_return false;
        }
        // A resumed session skips verification; its certificate was verified when it was made.
        if (!check_.identity) {
            if (X509* leaf = SSL_get0_peer_certificate(stream_.native_handle())) {
                auto result = identity::extract_identity(leaf);
                if (!result) co_return false;
                check_.identity = std::move(result.identity);
            }
        }
        co_return true;
    }

    void log_refused_handshake(const error_code& ec) {
        if (check_.refusal.empty() && is_disconnect(ec)) {
            spdlog::debug("device {} left during the TLS handshake: {}", peer_text(), ec.message());
            return;
        }
        const std::string reason = check_.refusal.empty() ? ec.message() : check_.refusal;
        const long suppressed = runtime_->refusal_log->admit(reason);
        if (suppressed < 0) return;
        const std::string more =
            suppressed > 0 ? fmt::format(" ({} more like it suppressed)", suppressed) : "";
        if (check_.refusal.empty()) {
            spdlog::warn("refused TLS handshake from {}: {}{}", peer_text(), reason, more);
        } else {
            spdlog::warn("refused device certificate from {}: {}: {}{}", peer_text(), reason,
                         check_.refused_certificate, more);
        }
    }

    std::string peer_text() const { return peer_.address().to_string() + ":" + std::to_string(peer_.port()); }
    std::string user_text() const { return check_.identity ? check_.identity->principal_name() : "-"; }

    // Reads one request, forwards it and relays the answer. False when the connection must end.
    asio::awaitable<bool> serve_request(bool first) {
        http::request_parser<http::buffer_body> parser;
        parser.header_limit(static_cast<std::uint32_t>(limits_.max_header_bytes));
        parser.body_limit(boost::none);  // checked below, once the request line is known for the log
        tcp_stream().expires_after(first ? limits_.header_timeout : limits_.idle_timeout);
        phase_ = Phase::idle;
        if (draining()) co_return false;
        auto ec = co_await read_raw_header();
        if (!ec) {
            const auto raw = buffered_text();
            if (listener::has_obsolete_line_folding(raw.substr(0, header_end(raw)))) {
                phase_ = Phase::busy;
                spdlog::warn("{} {}: 400 obsolete line folding in the request header", peer_text(),
                             user_text());
                co_await write_status(http::status::bad_request, 11, false);
                co_return false;
            }
            std::tie(ec, std::ignore) =
                co_await http::async_read_header(stream_, buffer_, parser, use_nothrow);
        }
        phase_ = Phase::busy;
        if (ec == http::error::header_limit) {
            spdlog::warn("{} {}: 431 request header larger than limits.max_header_bytes ({})", peer_text(),
                         user_text(), config::format_size(limits_.max_header_bytes));
            co_await write_status(http::status::request_header_fields_too_large, 11, false);
            co_return false;
        }
        if (ec) {
            if (!is_disconnect(ec)) {
                spdlog::warn("{} {}: 400 malformed request: {}", peer_text(), user_text(), ec.message());
                co_await write_status(http::status::bad_request, 11, false);
            } else if (buffer_.size() > 0) {
                log_incomplete_header(ec);
            }
            co_return false;
        }

        auto& request = parser.get();
        // Taken before anything is rewritten: what easgate forwards is framed from this alone.
        const auto declared_length = parser.content_length();
        const upstream::BodyFraming framing{
            parser.chunked(),
            declared_length ? std::optional<std::uint64_t>(*declared_length) : std::nullopt};
        const auto header_fields = std::distance(request.begin(), request.end());
        const RequestLine line{std::string(request.method_string()),
                               std::string(request.target()),
                               std::string(request[http::field::host]),
                               request.version(),
                               request.keep_alive(),
                               request.method() == http::verb::head};
        started_ = std::chrono::steady_clock::now();
        if (const auto error = framing_error(request); !error.empty()) {
            co_await respond(http::status::bad_request, line, false, "ambiguous request framing: " + error);
            co_return false;
        }

        if (const auto length = parser.content_length(); length && *length > limits_.max_request_body) {
            co_await respond(http::status::payload_too_large, line, false,
                             "request body of " + std::to_string(*length) +
                                 " bytes exceeds limits.max_request_body (" +
                                 config::format_size(limits_.max_request_body) + ")");
            co_return false;
        }
        parser.body_limit(limits_.max_request_body);  // for chunked bodies, whose size shows as they come
        const auto eas = eas::parse_eas_request(
            request.method_string(), request.target(),
            {request["MS-ASProtocolVersion"], request["X-MS-PolicyKey"], request[http::field::user_agent]});
        if (!eas) {
            co_await respond(http::status::bad_request, line, false,
                             "malformed ActiveSync request: " + eas.error);
            co_return false;
        }
        if (eas.request->path == eas::EasPath::other && !runtime_->upstream->routes(line.target)) {
            co_await respond(http::status::not_found, line, false,
                             "only /Microsoft-Server-ActiveSync, /autodiscover/autodiscover.xml and "
                             "upstreams[].routes are relayed");
            co_return false;
        }
        pipeline::RequestContext context{
            check_.identity ? &*check_.identity : nullptr, peer_, request.base(), {}, {}};
        const auto verdict = co_await runtime_->pipeline->run(context);
        if (!verdict.proceeds()) {
            co_await respond(static_cast<http::status>(verdict.status), line, false, verdict.reason,
                             verdict.retry_after_seconds);
            co_return false;
        }
        if (beast::iequals(request[http::field::expect], "100-continue") && !parser.is_done()) {
            http::response<http::empty_body> go_on{http::status::continue_, line.version};
            tcp_stream().expires_after(limits_.client_body_timeout);
            auto [write_ec, written] = co_await http::async_write(stream_, go_on, use_nothrow);
            if (write_ec) co_return false;
        }

        std::vector<char> body;
        common::BodyRateGuard body_rate(limits_.min_body_rate, limits_.client_body_timeout);
        if (!co_await read_ahead(parser, body, line, body_rate)) co_return false;
        const bool buffered = parser.is_done();
        drop_trailer_fields(request, header_fields);
        upstream::rewrite_request_for_upstream(request.base(), peer_.address(),
                                               context.delegated.has_value());
        const std::span<const std::uint8_t> read_ahead_bytes(
            reinterpret_cast<const std::uint8_t*>(body.data()), body.size());
        const auto deadline = response_deadline(*eas.request, read_ahead_bytes, buffered, limits_);

        // The delegation stage's token goes with the request unless on_challenge holds it back until
        // Exchange asks; with Extended Protection it is replaced by one bound to the connection.
        const bool challenge_first =
            context.delegated && buffered &&
            runtime_->upstream->send_authorization() == config::SendAuthorization::on_challenge;
        std::vector<char> scratch(buffered ? 0 : relay_chunk_bytes);
        std::optional<http::response_parser<http::buffer_body>> response;
        std::size_t authorization_bytes = 0;
        std::optional<upstream::InFlight> in_flight;  // counts toward the server's outstanding requests
        bool challenged = false;     // Exchange answered 401 Negotiate: the next try carries the token
        bool retried_fresh = false;  // a kept-alive connection that took none of the request: one retry
        for (;;) {
            take_idle_upstream();
            const bool reused = upstream_.reusable();
            if (!reused) {
                if (auto failure = co_await connect_upstream()) {
                    co_await respond(static_cast<http::status>(failure->status), line,
                                     line.keep_alive && buffered, failure->reason,
                                     failure->local ? retry_after_seconds : 0);
                    co_return line.keep_alive&& buffered;
                }
            }
            in_flight.emplace(*runtime_->upstream, upstream_.server());
            // This upstream connection only ever carries this device's user, so a backend that
            // keeps Kerberos authentication per connection needs the token on the first request only.
            const bool per_connection =
                runtime_->upstream->authentication() == config::UpstreamAuthentication::per_connection;
            const bool send_token =
                context.delegated && (challenged || (!challenge_first && !(reused && per_connection)));
            if (context.delegated) request.erase(http::field::authorization);  // the last try's token
            if (send_token) {
                const auto token = co_await authorization_for_connection(*context.delegated);
                if (!token.ok()) {
                    co_await respond(http::status::service_unavailable, line, line.keep_alive && buffered,
                                     token.detail, retry_after_seconds);
                    co_return line.keep_alive&& buffered;
                }
                request.set(http::field::authorization, "Negotiate " + token.negotiate_token);
            }
            authorization_bytes = request[http::field::authorization].size();
            upstream::address_request(request.base(), upstream_.target(), framing,
                                      buffered ? std::optional<std::uint64_t>(body.size()) : std::nullopt);
            request.version(11);

            // Send the request: the read-ahead first, then (for large bodies) the rest as it arrives.
            http::serializer<true, http::buffer_body> request_writer{request};
            const auto sent = co_await upstream_.visit([&](auto& upstream) {
                return common::relay_body(
                    stream_, buffer_, parser, upstream, request_writer, std::span<char>(body),
                    std::span<char>(scratch),
                    {limits_.client_body_timeout, limits_.upstream_timeout, &body_rate});
            });
            if (!sent.ok()) {
                upstream_.close();
                if (sent.failed == common::RelaySide::input) {  // the device's body went wrong mid-stream
                    co_await refuse_body(sent.error, line, body_rate);
                    co_return false;
                }
                // A kept-alive connection that Exchange closed meanwhile took nothing of the request:
                // sending it on a new connection is safe.
                if (reused && buffered && sent.written == 0 && !retried_fresh) {
                    retried_fresh = true;
                    spdlog::debug(
                        "{} {}: upstream {} had closed the kept-alive connection ({}); sending the "
                        "request on a new one",
                        peer_text(), user_text(), upstream_.target().url, sent.error.message());
                    continue;
                }
                // Part of the request may have reached Exchange: replaying it could send a mail twice.
                co_await respond(http::status::service_unavailable, line, line.keep_alive && buffered,
                                 "upstream " + upstream_.target().url +
                                     " broke the connection while receiving the request (not replayed): " +
                                     sent.error.message(),
                                 retry_after_seconds);
                co_return line.keep_alive&& buffered;
            }
            const bool may_resend = challenge_first && !challenged;
            if (!may_resend) {  // nothing of the request is kept while Exchange thinks
                std::vector<char>().swap(body);
                std::vector<char>().swap(scratch);
            }
            if (auto ended = co_await read_response_header(line, buffered, deadline, response))
                co_return *ended;
            // A 401 with a Negotiate challenge: Exchange did not process the request, so it is sent
            // again, now with the token.
            if (!may_resend || !is_negotiate_challenge(response->get())) break;
            challenged = true;
            spdlog::debug("{} {}: upstream {} asked for credentials; sending the request again with them",
                          peer_text(), user_text(), upstream_.target().url);
            co_await discard_response_body(*response);
        }
        const bool keep = co_await relay_response(line, buffered, *response, authorization_bytes);
        in_flight.reset();
        release_upstream();
        co_return keep;
    }

    // With a certificate, upstream connections are the user's, not the device connection's: an idle
    // one of this user (from any of their devices on this worker) is taken, and given back after
    // each response. Without one (optional mode) the device's own credentials went upstream, and
    // the connection stays with the device connection.
    bool pools_upstream() const { return check_.identity.has_value(); }
    upstream::IdleConnectionPool& idle_pool() const {
        return upstream::IdleConnectionPool::for_this_thread(limits_.max_idle_upstream_connections,
                                                             limits_.upstream_idle_timeout);
    }
    void take_idle_upstream() {
        if (!pools_upstream() || upstream_.is_open()) return;
        const auto& user = check_.identity->principal_name();
        if (auto idle = idle_pool().take(*runtime_->upstream, user, runtime_->upstream->routed_server(user)))
            upstream_ = std::move(*idle);
    }
    void release_upstream() {
        if (!pools_upstream() || !upstream_.is_open()) return;
        idle_pool().give(*runtime_->upstream, check_.identity->principal_name(),
                         std::exchange(upstream_, upstream::UpstreamConnection(stream_.get_executor())));
    }

    // The Authorization header for the current upstream connection: the delegation stage's token,
    // or a new one bound to this TLS connection when the upstream uses Extended Protection.
    asio::awaitable<delegation::DelegationResult> authorization_for_connection(
        const pipeline::DelegatedUser& user) {
        if (upstream_.channel_binding().empty()) {
            delegation::DelegationResult result;
            result.negotiate_token = user.negotiate_token;
            co_return result;
        }
        co_return co_await user.token(upstream_.channel_binding());
    }

    static bool is_negotiate_challenge(const http::response<http::buffer_body>& response) {
        if (response.result() != http::status::unauthorized) return false;
        const auto [first, last] = response.equal_range(http::field::www_authenticate);
        for (auto field = first; field != last; ++field) {
            const auto value = field->value();
            if (value.size() >= 9 && beast::iequals(value.substr(0, 9), "Negotiate")) return true;
        }
        return false;
    }

    // Reads and drops the body of a response the device never sees (a 401 challenge). A large or
    // broken one costs the connection instead: the next attempt connects afresh.
    asio::awaitable<void> discard_response_body(http::response_parser<http::buffer_body>& parser) {
        constexpr std::size_t max_discarded = 64 * 1024;
        std::array<char, 4096> sink;
        std::size_t discarded = 0;
        while (!parser.is_done() && discarded <= max_discarded) {
            parser.get().body().data = sink.data();
            parser.get().body().size = sink.size();
            upstream_.tcp().expires_after(limits_.upstream_timeout);
            auto [ec, read] = co_await upstream_.visit([&](auto& upstream) {
                return http::async_read_some(upstream, upstream_.buffer(), parser, use_nothrow);
            });
            if (ec && ec != http::error::need_buffer) break;
            discarded += sink.size() - parser.get().body().size;
        }
        if (!parser.is_done() || !parser.get().keep_alive()) upstream_.close();
    }

    // Reads until buffer_ holds a whole request header (or limits.max_header_bytes without one:
    // header_limit), so that its raw bytes can be checked before Beast parses them.
    asio::awaitable<error_code> read_raw_header() {
        for (;;) {
            const auto raw = buffered_text();
            const auto end = header_end(raw);
            if (has_bare_line_feed(raw.substr(0, end))) co_return error_code(http::error::bad_line_ending);
            if (end != std::string_view::npos) co_return error_code{};
            if (raw.size() >= limits_.max_header_bytes) co_return error_code(http::error::header_limit);
            // read_size grows the buffer only as needed (as Beast's own reads do), so a kept-alive
            // connection waiting for a small request does not hold max_header_bytes.
            auto [ec, read] = co_await stream_.async_read_some(
                buffer_.prepare(beast::read_size(buffer_, limits_.max_header_bytes - raw.size())),
                use_nothrow);
            buffer_.commit(read);
            if (ec) co_return ec;
        }
    }

    // The connection ends with part of a request header received: a device that stalled or left,
    // or easgate shutting down. Nothing was forwarded, and the device will send it again.
    void log_incomplete_header(const error_code& ec) const {
        std::string why = ec.message();
        if (ec == asio::error::operation_aborted && draining()) why = "easgate is shutting down";
        if (ec == beast::error::timeout)
            why = "no complete header within limits.header_timeout or idle_timeout";
        spdlog::info(
            "{} {}: closed with an incomplete request header ({} bytes received, nothing forwarded): {}",
            peer_text(), user_text(), buffer_.size(), why);
    }

    std::string_view buffered_text() const {
        const auto received = buffer_.data();
        return {static_cast<const char*>(received.data()), received.size()};
    }

    // Holds up to limits.upload_read_ahead of the body before Exchange is contacted (IIS's
    // uploadReadAheadSize), so that small requests can be retried and slow devices don't tie up
    // an Exchange connection. Larger bodies are streamed afterwards.
    asio::awaitable<bool> read_ahead(http::request_parser<http::buffer_body>& parser, std::vector<char>& body,
                                     const RequestLine& line, common::BodyRateGuard& rate) {
        const std::uint64_t limit = limits_.upload_read_ahead;
        if (const auto length = parser.content_length())
            body.reserve(std::min<std::uint64_t>(*length, limit));
        while (!parser.is_done() && body.size() < limit) {
            const std::size_t room = std::min<std::uint64_t>(limit - body.size(), relay_chunk_bytes);
            const std::size_t filled = body.size();
            body.resize(filled + room);
            auto& chunk = parser.get().body();
            chunk.data = body.data() + filled;
            chunk.size = room;
            tcp_stream().expires_at(rate.read_deadline());
            auto [ec, read] = co_await http::async_read_some(stream_, buffer_, parser, use_nothrow);
            rate.received(read);
            body.resize(filled + room - chunk.size);
            if (ec == http::error::need_buffer) continue;
            if (ec) {
                co_await refuse_body(ec, line, rate);
                co_return false;
            }
        }
        co_return true;
    }

    // The device's request body failed, during read-ahead or while streaming to Exchange (whose
    // connection is closed then, so it never processes the partial request). The same answer and
    // log line either way; a device that left gets none, and 499 (nginx's "client closed request")
    // in the log.
    asio::awaitable<void> refuse_body(const error_code& ec, const RequestLine& line,
                                      const common::BodyRateGuard& rate) {
        if (ec == beast::error::timeout) {
            co_await respond(http::status::request_timeout, line, false, body_timeout_reason(rate));
        } else if (ec == http::error::body_limit) {
            co_await respond(http::status::payload_too_large, line, false,
                             "request body exceeds limits.max_request_body (" +
                                 config::format_size(limits_.max_request_body) + ")");
        } else if (is_disconnect(ec) || ec == http::error::partial_message) {
            log_access(line, 499,
                       "the device went away while sending its request body (" +
                           std::to_string(rate.received()) + " bytes received); nothing was processed");
        } else {
            co_await respond(http::status::bad_request, line, false,
                             "malformed request body: " + ec.message());
        }
    }

    std::string body_timeout_reason(const common::BodyRateGuard& rate) const {
        if (rate.too_slow())
            return "the device sent its request body slower than limits.min_body_rate (" +
                   config::format_size(limits_.min_body_rate) + " per second)";
        return "the device sent no more of its request body for limits.client_body_timeout (" +
               config::format_duration(limits_.client_body_timeout) + ")";
    }

    bool draining() const { return draining_ || runtime_->sessions->draining(); }

    // easgate is shutting down: an empty 200 ends the held Ping or Sync now, and the device issues
    // it again at once, on a connection to another node.
    asio::awaitable<void> answer_long_poll_early(const RequestLine& line) {
        log_access(line, 200, "");
        spdlog::info("{} {}: held long poll answered early: easgate is shutting down", peer_text(),
                     user_text());
        http::response<http::empty_body> response{http::status::ok, line.version};
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
    void watch_device_while_exchange_holds_the_request() {
        tcp_stream().expires_never();  // the hold is bounded by the upstream deadline, not the device
        watch_pending_ = true;
        watch_stopping_ = false;
        watch_device();
    }
    void watch_device() {
        stream_.async_read_some(
            buffer_.prepare(1), [self = shared_from_this()](const error_code& ec, std::size_t n) {
                self->buffer_.commit(n);
                if (!ec && !self->watch_stopping_ && self->buffer_.size() < self->limits_.max_header_bytes)
                    return self->watch_device();
                self->watch_pending_ = false;
                self->watch_done_.cancel();
                if (!ec || ec == asio::error::operation_aborted) return;
                self->device_left_ = true;
                self->upstream_.cancel();
            });
    }
    // Cancels the watch and waits until it has completed: two reads must never be pending on one
    // TLS stream, and the next request's read follows.
    asio::awaitable<void> stop_watching_device() {
        if (!watch_pending_) co_return;
        watch_stopping_ = true;
        error_code ignored;
        tcp_stream().socket().cancel(ignored);  // only the watch is pending on the device socket
        watch_done_.expires_at(asio::steady_timer::time_point::max());
        co_await watch_done_.async_wait(use_nothrow);  // ends when the watch's handler cancels it
    }

    // Connects to the first server of the upstream that answers. A failed connect sent nothing of
    // the request, so trying the next server is always safe.
    asio::awaitable<std::optional<upstream::UpstreamFailure>> connect_upstream() {
        auto& pool = *runtime_->upstream;
        std::vector<bool> tried(pool.server_count());
        std::optional<upstream::UpstreamFailure> failure;
        const std::string user = check_.identity ? check_.identity->principal_name() : "";
        while (const auto server = pool.pick_server(tried, user)) {
            tried[*server] = true;
            failure = co_await upstream_.open(pool, *server, limits_.upstream_connect_timeout);
            if (!failure) {
                pool.record_success(*server);
                co_return std::nullopt;
            }
            if (failure->local) co_return failure;
            pool.record_failure(*server, failure->reason);
            if (std::find(tried.begin(), tried.end(), false) != tried.end())
                spdlog::warn("{} {}: {}; trying the next server", peer_text(), user_text(), failure->reason);
        }
        co_return failure;
    }

    // Beast adds a chunked body's trailer fields to the header; read ahead, they would go to
    // Exchange as header fields (a device's Authorization among them). Trailers mean nothing to
    // ActiveSync, so they are dropped (RFC 9110 6.5.1 lets a recipient discard them).
    static void drop_trailer_fields(http::request<http::buffer_body>& request, std::ptrdiff_t header_fields) {
        auto trailer = std::next(request.begin(), header_fields);
        while (trailer != request.end()) trailer = request.erase(trailer);
    }

    // Waits for Exchange's response header (past interim 1xx answers). nullopt once it is in
    // parser; otherwise the device has been answered (or has left) and this is serve_request's result.
    asio::awaitable<std::optional<bool>> read_response_header(
        const RequestLine& line, bool request_buffered, const ResponseDeadline& deadline,
        std::optional<http::response_parser<http::buffer_body>>& parser) {
        const bool keep_device = line.keep_alive && request_buffered;
        // One deadline for the final answer: interim 1xx answers don't extend it.
        const auto answer_due = std::chrono::steady_clock::now() + deadline.timeout;
        do {  // interim 1xx answers (other than 101) are Exchange's business, not the device's
            parser.emplace();
            parser->header_limit(upstream_header_limit);
            parser->body_limit(boost::none);
            parser->skip(line.head);
            upstream_.tcp().expires_at(answer_due);
            if (deadline.long_poll) {
                phase_ = Phase::long_poll;
                watch_device_while_exchange_holds_the_request();
            }
            auto [ec, read] = co_await upstream_.visit([&](auto& upstream) {
                return http::async_read_header(upstream, upstream_.buffer(), *parser, use_nothrow);
            });
            if (deadline.long_poll) {
                phase_ = Phase::busy;
                co_await stop_watching_device();
            }
            if (ec && deadline.long_poll && draining_) {
                upstream_.close();
                co_await answer_long_poll_early(line);
                co_return false;
            }
            if (ec && device_left_) {
                spdlog::debug("{} {} \"{} {}\": the device left; its long poll to {} is cancelled",
                              peer_text(), user_text(), line.method, line.target, upstream_.target().url);
                upstream_.close();
                co_return false;
            }
            if (ec) {
                const bool timed_out = ec == beast::error::timeout;
                const std::string url = upstream_.target().url;
                upstream_.close();
                // Exchange had the whole request: it is never replayed; the device retries later.
                // The reason is built before the co_await: GCC 12 destroys string temporaries of a
                // ?: inside a co_await expression twice (a double free seen when Exchange went away).
                std::string reason;
                if (timed_out) {
                    reason = "upstream " + url + " did not answer within " + deadline.origin + " (" +
                             config::format_duration(deadline.timeout) + ")";
                } else {
                    reason = "upstream " + url +
                             " sent no valid response (request not replayed): " + unreadable_answer(ec);
                }
                co_await respond(
                    timed_out ? http::status::gateway_timeout : http::status::service_unavailable, line,
                    keep_device, reason, timed_out ? 0 : retry_after_seconds);
                co_return keep_device;
            }
        } while (parser->get().result_int() / 100 == 1 && parser->get().result_int() != 101);
        co_return std::nullopt;
    }

    // Why Exchange's answer could not be read. Beast's parse errors name only a field ("bad
    // version" for an answer that is not HTTP at all): the log says it was the header's fault.
    static std::string unreadable_answer(const error_code& ec) {
        const bool malformed = ec.category() == make_error_code(http::error::bad_version).category() &&
                               ec != http::error::end_of_stream && ec != http::error::partial_message;
        return malformed ? "malformed response header (" + ec.message() + ")" : ec.message();
    }

    asio::awaitable<bool> relay_response(const RequestLine& line, bool request_buffered,
                                         http::response_parser<http::buffer_body>& parser,
                                         std::size_t authorization_bytes) {
        const bool keep_device = line.keep_alive && request_buffered;
        auto& response = parser.get();
        const unsigned status = response.result_int();
        bool keep_upstream = response.keep_alive();
        if (status == 451) keep_upstream = keep_upstream && !follow_mailbox_redirect(response, line);
        // A refused token may have left the connection's authentication state unknown (a backend
        // that authenticates per connection would serve the next request unauthenticated or
        // blame a ticket never sent): it is not reused.
        if (status == 401 && pools_upstream()) keep_upstream = false;
        if (status == 401 && check_.identity) log_backend_refusal(response[http::field::www_authenticate]);
        upstream::rewrite_response_for_device(response.base(), pools_upstream());
        const bool keep = frame_response_for_device(parser, line) && keep_device && !draining();
        response.keep_alive(keep);
        if (status == 400 && authorization_bytes > 0)
            co_await diagnose_backend_400(response.reason(), parser.content_length(), authorization_bytes);

        std::vector<char> scratch(relay_chunk_bytes);
        http::serializer<false, http::buffer_body> response_writer{response};
        const auto relayed = co_await upstream_.visit([&](auto& upstream) {
            return common::relay_body(upstream, upstream_.buffer(), parser, stream_, response_writer, {},
                                      scratch, {limits_.upstream_timeout, limits_.client_body_timeout});
        });
        if (!relayed.ok() || !keep_upstream || !parser.is_done()) upstream_.close();
        if (!relayed.ok()) {
            if (relayed.failed == common::RelaySide::input) {
                spdlog::warn("{} {} \"{} {}\" upstream {} broke off its response: {}", peer_text(),
                             user_text(), line.method, line.target, upstream_.target().url,
                             relayed.error.message());
            }
            co_return false;
        }
        log_access(line, status, "");
        co_return keep;
    }

    // Frames Exchange's body for the device from what the parser read, never from header fields
    // Exchange named in Connection. False when only closing the connection can end the body (an
    // HTTP/1.0 device knows no chunked coding).
    static bool frame_response_for_device(http::response_parser<http::buffer_body>& parser,
                                          const RequestLine& line) {
        auto& response = parser.get();
        response.version(line.version);
        response.erase(http::field::transfer_encoding);
        if (line.head) return true;  // no body follows; Exchange's Content-Length says what a GET would get
        if (const auto length = parser.content_length(); length && !parser.chunked()) {
            response.content_length(*length);
            return true;
        }
        response.erase(http::field::content_length);
        if (parser.is_done() && !parser.chunked())
            return true;                      // no body (204, 304, or an empty chunked one)
        if (line.version < 11) return false;  // sent as it comes, ended by the close
        response.chunked(true);
        return true;
    }

    // Answers the device from easgate itself. The device sees only the status; the log says why.
    asio::awaitable<void> respond(http::status status, const RequestLine& line, bool keep_alive,
                                  const std::string& reason, unsigned retry_after_seconds = 0) {
        log_access(line, static_cast<unsigned>(status), reason);
        co_await write_status(status, line.version, keep_alive, retry_after_seconds);
    }

    asio::awaitable<void> write_status(http::status status, unsigned version, bool keep_alive,
                                       unsigned retry_after_seconds = 0) {
        http::response<http::string_body> response{status, version};
        if (retry_after_seconds > 0)
            response.set(http::field::retry_after, std::to_string(retry_after_seconds));
        response.set(http::field::server, "easgate");
        response.set(http::field::content_type, "text/plain; charset=utf-8");
        response.body() = std::string(http::obsolete_reason(status)) + "\n";
        response.keep_alive(keep_alive);
        response.prepare_payload();
        tcp_stream().expires_after(limits_.client_body_timeout);
        co_await http::async_write(stream_, response, use_nothrow);
    }

    // 451 with X-MS-Location: the user's mailbox is served by another Exchange server. The device
    // keeps talking to easgate (its copy of the location names easgate), and easgate routes the
    // user there when that server is in the upstream. True when later requests go elsewhere.
    bool follow_mailbox_redirect(http::response<http::buffer_body>& response, const RequestLine& line) {
        const std::string location(response["X-MS-Location"]);
        const auto parsed = upstream::parse_mailbox_location(location);
        const auto server = parsed ? runtime_->upstream->find_server(parsed->server) : std::nullopt;
        if (!server || !check_.identity) {
            spdlog::warn(
                "{} {}: upstream {} answered 451 with X-MS-Location \"{}\", which names no server of "
                "upstream {}: relayed unchanged, so the device will connect there directly. Add that "
                "server to upstreams[].servers to keep the device on easgate",
                peer_text(), user_text(), upstream_.target().url, location, runtime_->upstream->name());
            return false;
        }
        const std::string gateway_host = runtime_->public_name.empty() ? line.host : runtime_->public_name;
        response.set("X-MS-Location", upstream::location_on_gateway(*parsed, gateway_host));
        runtime_->upstream->route_user_to(user_text(), *server);
        spdlog::info("{} {}: the mailbox is on {} (451 from {}): the user's requests go there from now on",
                     peer_text(), user_text(), runtime_->upstream->server(*server).url,
                     upstream_.target().url);
        return true;
    }

    // A 400 to a request with a large Kerberos token is most often HTTP.sys refusing the header.
    // Its text is in the reason or the start of the body, already in the upstream buffer.
    asio::awaitable<void> diagnose_backend_400(std::string_view reason,
                                               boost::optional<std::uint64_t> body_length,
                                               std::size_t authorization_bytes) {
        // The body may follow in its own TLS record: read ahead of the parser, which then finds it
        // in the buffer.
        const std::size_t wanted = std::min<std::uint64_t>(body_length.value_or(0), 4096);
        auto& buffer = upstream_.buffer();
        while (buffer.size() < wanted) {
            upstream_.tcp().expires_after(limits_.upstream_timeout);
            auto [ec, read] = co_await upstream_.visit([&](auto& upstream) {
                return upstream.async_read_some(buffer.prepare(wanted - buffer.size()), use_nothrow);
            });
            buffer.commit(read);
            if (ec) break;  // the relay that follows meets the same error and handles it
        }
        const auto buffered = buffer.data();
        const std::string_view body_start(static_cast<const char*>(buffered.data()),
                                          std::min<std::size_t>(buffered.size(), 4096));
        if (!upstream::says_header_too_long(reason, body_start)) co_return;
        spdlog::warn(
            "upstream {} refused the request of {} as too long (400 \"{}\"): its Authorization header was {} "
            "bytes, because the user's Kerberos ticket lists many groups. On every Exchange server raise "
            "MaxFieldLength and MaxRequestBytes "
            "(HKLM\\SYSTEM\\CurrentControlSet\\Services\\HTTP\\Parameters, "
            "then restart HTTP.sys) to at least {} bytes, or reduce the user's groups",
            upstream_.target().url, user_text(), std::string(reason), authorization_bytes,
            authorization_bytes + 1024);
    }

    // Exchange refused the credentials easgate made for the user: say what it offered and what to check.
    void log_backend_refusal(std::string_view offer) {
        spdlog::warn(
            "upstream {} answered 401 to {} (WWW-Authenticate: {}): Exchange did not accept the delegated "
            "Kerberos ticket. Check that Windows Authentication with Negotiate is enabled on the ActiveSync "
            "virtual directory, that the SPN in upstreams[].service_principal is registered on the account "
            "that runs Exchange's web site (setspn -Q), that Exchange's keytab or password is current, and, "
            "if "
            "Exchange requires Extended Protection, that upstreams[].channel_binding is auto",
            upstream_.target().url, user_text(), offer.empty() ? "none" : std::string(offer));
    }

    void log_access(const RequestLine& line, unsigned status, const std::string& reason) {
        const auto elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(
            std::chrono::steady_clock::now() - started_);
        const auto level = reason.empty() ? spdlog::level::info : spdlog::level::warn;
        spdlog::log(level, "{} {} \"{} {}\" {} {}ms upstream={}{}{}", peer_text(), user_text(), line.method,
                    line.target, status, elapsed.count(), runtime_->upstream->name(),
                    reason.empty() ? "" : ": ", reason);
    }

    std::shared_ptr<ListenerRuntime> runtime_;
    const config::LimitsConfig& limits_;
    beast::ssl_stream<beast::tcp_stream> stream_;
    beast::flat_buffer buffer_;
    tcp::endpoint peer_;
    ClientCertificateCheck check_;
    upstream::UpstreamConnection upstream_;
    std::chrono::steady_clock::time_point started_;
    bool device_left_ = false;  // seen by the long-poll watch; the session ends without answering
    Phase phase_ = Phase::busy;
    bool watch_pending_ = false;
    bool watch_stopping_ = false;  // a read that completes now must not start another
    asio::steady_timer watch_done_{stream_.get_executor()};
    bool draining_ = false;
    std::optional<SessionRegistry::Entry> registered_;
};

}  // namespace

void start_device_session(tcp::socket socket, std::shared_ptr<ListenerRuntime> runtime) {
    std::make_shared<DeviceSession>(std::move(socket), std::move(runtime))->start();
}

}  // namespace easgate::listener
