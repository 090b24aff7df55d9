#pragma once

#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "easgate/common/body_rate.hpp"
#include "easgate/common/header_arena.hpp"
#include "easgate/common/logging.hpp"
#include "easgate/directory/directory_client.hpp"
#include "easgate/eas/blocked_device.hpp"
#include "easgate/eas/eas_request.hpp"
#include "easgate/listener/downstream_session.hpp"
#include "easgate/listener/proxy_header.hpp"
#include "easgate/listener/request_framing.hpp"
#include "easgate/upstream/upstream_exchange.hpp"

namespace easgate::listener {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using error_code = boost::system::error_code;

// nginx's "client closed request", in the access log only: the device left before its answer.
constexpr unsigned client_closed_request = 499;

// The reason phrase easgate's own answers carry as their body.
inline std::string_view status_text(unsigned status) {
    return http::obsolete_reason(static_cast<http::status>(status));
}

// The methods ActiveSync and Autodiscover clients send; a 405's Allow lists them.
constexpr std::string_view activesync_methods = "GET, POST, OPTIONS, HEAD";

// The other side went away or went quiet: nothing to answer and nothing worth a warning.
bool is_disconnect(const error_code& ec);

// What a session is doing, for a shutdown: an idle connection closes at once, a held long poll is
// answered early, a request in flight finishes first.
enum class Phase { idle, busy, long_poll };

// A request whose header was read and passed the checks, as the rest of its trip needs it.
struct AdmittedRequest : common::ParserInArena<common::RequestParser> {
    upstream::RequestLine line;
    upstream::BodyFraming framing;
    eas::EasRequest eas;
    std::string_view policy_rule;  // the policy rule that decided, for the access log; "" without policy
    directory::FoundUser account;  // the directory's account it runs as, for the access log; null: none
    // For the access log and /metrics, filled in as the request goes on.
    std::optional<common::BodyRateGuard> body_rate;  // once its body is read: bytes in
    std::chrono::steady_clock::duration delegation_time{};
    std::optional<bool> ticket_from_cache;  // with delegation only
    bool forwarded = false;                 // Exchange's trip (exchange_.trip()) is this request's
    bool long_poll = false;                 // Exchange may hold it (response_deadline)
};

// The device side of one connection: the TLS handshake, reading and checking each request, the
// filter chain, read-ahead, easgate's own answers, the watch on the device while Exchange holds a
// long poll, and the drain at shutdown. Exchange's side is the UpstreamExchange's. The session owns
// itself for as long as the connection lives.
class DownstreamSession : public DrainableSession,
                          public upstream::DeviceWatch,
                          public std::enable_shared_from_this<DownstreamSession> {
public:
    DownstreamSession(tcp::socket socket, std::shared_ptr<ListenerRuntime> runtime);
    ~DownstreamSession() override;

    void start();
    void drain() override;
    void reclaim() override;

    // upstream::DeviceWatch, while Exchange holds a long poll.
    void watch() override;
    asio::awaitable<void> stop_watching() override;
    bool device_left() const override { return device_left_; }
    bool draining() const override { return draining_ || runtime_->sessions->draining(); }

private:
    beast::tcp_stream& tcp_stream() { return beast::get_lowest_layer(stream_); }

    asio::awaitable<void> run();
    // proxy_intake.cpp: on a proxy_protocol listener, the PROXY header before the TLS handshake.
    asio::awaitable<bool> take_proxy_header();
    asio::awaitable<ProxyHeaderParse> read_proxy_header();
    void refuse_proxied(std::string_view cause, const std::string& reason);
    // device_opening.cpp: the TLS handshake, and limits.max_opening_per_address.
    asio::awaitable<bool> handshake();
    // limits.max_opening_per_address, held from the handshake to the first request's header: false,
    // logged, when the source holds it already.
    bool take_opening_slot(std::string source);
    void give_opening_slot();
    void log_refused_handshake(const error_code& ec);
    asio::awaitable<void> linger();
    asio::awaitable<bool> serve_request(bool first);
    asio::awaitable<bool> forward_request(AdmittedRequest& request, const pipeline::RequestContext& context);
    // An exchange that ended otherwise than relayed.
    asio::awaitable<bool> end_of(const upstream::ExchangeEnd& end, const AdmittedRequest& request,
                                 const common::BodyRateGuard& rate);

    // request_reading.cpp: from the device's bytes to a request that may go on.
    asio::awaitable<bool> read_request(bool first, AdmittedRequest& request);
    asio::awaitable<std::pair<error_code, RawHeaderScan>> read_raw_header();
    error_code parse_buffered_header(common::RequestParser& parser);
    // whole_header: the header's end was read, so the parser refused it.
    asio::awaitable<void> refuse_unreadable_header(const error_code& ec, bool whole_header);
    void log_incomplete_header(const error_code& ec) const;
    std::optional<common::Failure> admit(AdmittedRequest& request);
    std::optional<common::Failure> take_user_slot(const pipeline::RequestContext& context);
    // Expect: 100-continue, before a body that has not come whole yet.
    static bool expects_continue(const AdmittedRequest& request);
    asio::awaitable<bool> send_continue(const AdmittedRequest& request);
    asio::awaitable<bool> read_ahead(AdmittedRequest& request, common::BodyBytes& body,
                                     common::BodyRateGuard& rate);
    asio::awaitable<void> refuse_body(const error_code& ec, const AdmittedRequest& request,
                                      const common::BodyRateGuard& rate);
    std::string body_timeout_reason(const common::BodyRateGuard& rate) const;

    // Answers from easgate itself: the device sees only the status; the log says why.
    asio::awaitable<void> respond(const common::Failure& failure, const AdmittedRequest& request,
                                  bool keep_alive);
    // How an answer of easgate's own fits the request it answers (the defaults: a request that
    // could not be read).
    struct AnswerFraming {
        unsigned version = 11;
        bool keep_alive = false;
        bool head = false;  // the header alone, its Content-Length what a GET would be sent
    };
    // The status with its reason phrase as a plain-text body.
    asio::awaitable<void> write_status(http::status status, AnswerFraming framing,
                                       unsigned retry_after_seconds = 0);
    // Any answer of easgate's own; a policy denial as Exchange words it for ActiveSync 14.0 and
    // later is a 200 with a WBXML body (eas/blocked_device.hpp).
    asio::awaitable<void> write_answer(http::status status, const char* content_type, std::string body,
                                       AnswerFraming framing, unsigned retry_after_seconds);
    asio::awaitable<void> answer_long_poll_early(const AdmittedRequest& request);
    // access_log.cpp: the access log line and the request's /metrics figures.
    void log_access(const AdmittedRequest& request, unsigned status, const std::string& reason,
                    std::uint64_t bytes_out) const;
    // The stages that could not answer at once (from `next` on): under a deadline and a watch.
    asio::awaitable<common::Result<>> run_waiting_stages(pipeline::RequestContext& context, std::size_t next);
    void start_watching(std::size_t read_bytes);
    void read_while_watching();

    std::string_view buffered_text() const {
        const auto received = buffer_.data();
        return {static_cast<const char*>(received.data()), received.size()};
    }
    // "[v6]:port" as in a URL, so an IPv6 peer's port can't be read as part of its address.
    std::string peer_text() const {
        const auto address = peer_.address().to_string();
        const auto port = std::to_string(peer_.port());
        return peer_.address().is_v6() ? "[" + address + "]:" + port : address + ":" + port;
    }
    // The certificate's name as one word of a log line: a UPN may hold spaces and quotes.
    std::string user_text() const {
        if (!check_.identity) return "-";
        const auto& name = check_.identity->display_name();
        return common::escaped_log_word(name, false).value_or(name);
    }
    const std::string& who() const { return who_; }  // "<peer> <user>", set once the handshake is done

    std::shared_ptr<ListenerRuntime> runtime_;
    const config::LimitsConfig& limits_;
    upstream::DeviceStream stream_;
    beast::flat_buffer buffer_;
    tcp::endpoint peer_;
    // limits.handshake_timeout from the accept: the PROXY header and the TLS handshake share it.
    std::chrono::steady_clock::time_point handshake_due_;
    std::string peer_address_;           // peer_'s address as text, once: every X-Forwarded-For
    bool answered_before_body_ = false;  // answered with the device maybe still sending: linger()
    bool answer_broken_ = false;         // the device got part of an answer: closed without close_notify
    ClientCertificateCheck check_;
    std::string user_slot_;     // its key in limits.max_connections_per_user, once counted
    std::string opening_slot_;  // its key in limits.max_opening_per_address, while counted
    std::string who_;
    upstream::UpstreamExchange exchange_;
    std::chrono::steady_clock::time_point started_;
    bool device_left_ = false;  // seen by the watch; the session ends without answering
    Phase phase_ = Phase::busy;
    bool watch_pending_ = false;
    bool watch_stopping_ = false;  // a read that completes now must not start another
    std::size_t watch_read_bytes_ = 1;
    asio::steady_timer watch_done_{stream_.get_executor()};
    asio::steady_timer stages_due_{
        stream_.get_executor()};  // the filter chain's deadline; the watch ends it early
    bool draining_ = false;
    bool reclaimed_ = false;  // closed to make room at limits.max_connections
    std::optional<SessionRegistry::Entry> registered_;
    // The request being served. Here, not in serve_request's coroutine frame: a frame over 1,020
    // bytes is malloc'd and freed for every request, one under that is recycled by Asio.
    std::optional<AdmittedRequest> request_;
};

}  // namespace easgate::listener
