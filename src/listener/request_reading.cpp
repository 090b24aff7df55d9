// The device side of a request before it goes to Exchange: its header read and checked byte by
// byte, the ActiveSync admission, Expect: 100-continue and the read-ahead of its body.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/read_size.hpp>
#include <boost/beast/http.hpp>
#include <tuple>

#include "downstream_session_internal.hpp"
#include "easgate/common/body_relay.hpp"
#include "easgate/common/text.hpp"
#include "easgate/common/use_nothrow.hpp"
#include "easgate/config/units.hpp"
#include "easgate/listener/eas_headers.hpp"
#include "easgate/listener/request_framing.hpp"

namespace easgate::listener {
namespace {

constexpr std::uint64_t body_read_bytes = 16 * 1024;  // TLS's largest record payload

using easgate::common::use_nothrow;

common::Failure bad_request(std::string reason) { return {400, std::move(reason), 0}; }

}  // namespace

// Reads one request header, checks it and admits it as ActiveSync. False when the connection
// ends (the device has been answered, or has left).
asio::awaitable<bool> DownstreamSession::read_request(bool first, AdmittedRequest& request) {
    auto& parser = request.parser;
    parser.header_limit(static_cast<std::uint32_t>(limits_.max_header_bytes));
    parser.body_limit(boost::none);  // checked in admit(), once the request line is known for the log
    tcp_stream().expires_after(first ? limits_.header_timeout : limits_.idle_timeout);
    phase_ = Phase::idle;
    // A connection accepted while draining (limits.shutdown_delay) still has its first request served.
    if (!first && draining()) co_return false;
    if (!first) runtime_->sessions->mark_idle(*registered_);  // a new one is opening from its accept
    auto [ec, scan] = co_await read_raw_header();
    // Reclaimed to make room (a header that came just then included): nothing of it is forwarded, and
    // the device sees its connection close without an answer, as when one kept alive is closed idle.
    if (!runtime_->sessions->mark_busy(*registered_)) {
        spdlog::debug(
            "{}: closed to make room at limits.max_connections ({} bytes of a request header "
            "received, nothing forwarded)",
            who().empty() ? peer_text() : who(), buffer_.size());
        co_return false;
    }
    if (!ec) {
        if (scan.obsolete_line_folding) {
            phase_ = Phase::busy;
            spdlog::warn("{}: 400 obsolete line folding in the request header", who());
            co_await write_status(http::status::bad_request, {});
            co_return false;
        }
        ec = parse_buffered_header(parser);
    }
    phase_ = Phase::busy;
    if (ec) {
        co_await refuse_unreadable_header(ec, scan.end != std::string_view::npos);
        co_return false;
    }
    const auto& header = parser.get();
    // Taken before anything is rewritten: what easgate forwards is framed from this alone.
    const auto declared_length = parser.content_length();
    request.framing = {parser.chunked(),
                       declared_length ? std::optional<std::uint64_t>(*declared_length) : std::nullopt};
    request.line = {std::string(header.method_string()),
                    std::string(header.target()),
                    std::string(header[http::field::host]),
                    header.version(),
                    header.keep_alive(),
                    header.method() == http::verb::head};
    started_ = std::chrono::steady_clock::now();
    if (auto refusal = admit(request)) {
        co_await respond(*refusal, request, false);
        co_return false;
    }
    co_return true;
}

asio::awaitable<void> DownstreamSession::refuse_unreadable_header(const error_code& ec, bool whole_header) {
    if (ec == http::error::header_limit) {
        // A whole header is within limits.max_header_bytes: then it was a field's name, over what
        // one name may be whatever that limit allows.
        if (whole_header) {
            spdlog::warn("{}: 431 a request header field's name is longer than {} bytes", who(),
                         common::FlatFields::max_name_size);
        } else {
            spdlog::warn("{}: 431 request header larger than limits.max_header_bytes ({})", who(),
                         config::format_size(limits_.max_header_bytes));
        }
        co_await write_status(http::status::request_header_fields_too_large, {});
    } else if (!is_disconnect(ec)) {
        spdlog::warn("{}: 400 malformed request: {}", who(), ec.message());
        co_await write_status(http::status::bad_request, {});
    } else if (buffer_.size() > 0) {
        log_incomplete_header(ec);
    }
}

// Only unambiguous framing, a body within limits, a well-formed ActiveSync request or a relayed
// route go on; otherwise, what the device is answered. Nothing here waits: no coroutine frame.
std::optional<common::Failure> DownstreamSession::admit(AdmittedRequest& request) {
    auto& parser = request.parser;
    const auto& header = parser.get();
    // TRACE would echo the request as Exchange got it, easgate's Authorization included; CONNECT
    // asks for a tunnel. Neither is relayed anywhere.
    const auto method = header.method();
    if (method == http::verb::trace || method == http::verb::connect)
        return common::Failure{501, std::string(header.method_string()) + " is not relayed", 0};
    if (const auto error = framing_error(header); !error.empty())
        return bad_request("ambiguous request framing: " + error);
    if (const auto length = parser.content_length(); length && *length > limits_.max_request_body)
        return common::Failure{413,
                               "request body of " + std::to_string(*length) +
                                   " bytes exceeds limits.max_request_body (" +
                                   config::format_size(limits_.max_request_body) + ")",
                               0};
    parser.body_limit(limits_.max_request_body);  // for chunked bodies, whose size shows as they come
    auto eas = eas::parse_eas_request(header.method_string(), header.target(), eas_headers_of(header));
    if (!eas) return bad_request("malformed ActiveSync request: " + eas.error);
    request.eas = std::move(*eas.request);
    // What ActiveSync and Autodiscover clients send: any other method ("trace" in lower case, which
    // HTTP.sys takes for another verb, WebDAV's, PUT) goes only to routes (Outlook Anywhere's
    // RPC_IN_DATA, for one).
    if (request.eas.path != eas::EasPath::other && method != http::verb::get && method != http::verb::post &&
        method != http::verb::options && method != http::verb::head)
        return common::Failure{405,
                               std::string(header.method_string()) +
                                   " is not an ActiveSync or Autodiscover method (" +
                                   std::string(activesync_methods) + ")",
                               0};
    if (request.eas.path == eas::EasPath::other && !runtime_->upstream->routes(request.line.target))
        return common::Failure{404,
                               "only /Microsoft-Server-ActiveSync, /autodiscover/autodiscover.xml and "
                               "upstreams[].routes are relayed",
                               0};
    return std::nullopt;
}

// limits.max_connections_per_user, counted once per connection by the account its request was
// found to be (objectSid, else DN; without a directory, the certificate's name): one phone opening
// connections in a loop, or one user's certificates on many devices, must not take the connections
// every other user needs. Keyed by the account, not the certificate's claim: a certificate naming
// another's UPN, or several of one user's, count where they belong.
std::optional<common::Failure> DownstreamSession::take_user_slot(const pipeline::RequestContext& context) {
    if (!user_slot_.empty()) return std::nullopt;
    auto owner = common::ascii_lowercase(context.connection_owner());
    if (owner.empty()) return std::nullopt;
    if (runtime_->sessions->take_user_slot(owner, limits_.max_connections_per_user)) {
        user_slot_ = std::move(owner);
        return std::nullopt;
    }
    return common::Failure::unavailable("limits.max_connections_per_user (" +
                                        std::to_string(limits_.max_connections_per_user) +
                                        ") connections of this user are open already: a phone opening "
                                        "connections in a loop, or one user's certificates on many devices "
                                        "(raise the limit for an account that many devices share)")
        .because("too_many_connections");
}

// An HTTP/1.0 device's expectation is ignored (RFC 9110 10.1.1): it would take a 100 for the answer.
// Expect is a list, and may come in several fields: 100-continue is looked for in every member.
bool DownstreamSession::expects_continue(const AdmittedRequest& request) {
    const auto& header = request.parser.get();
    if (request.parser.is_done() || header.version() < 11) return false;
    return std::any_of(header.begin(), header.end(), [](const auto& field) {
        if (field.name() != http::field::expect) return false;
        http::token_list expectations{field.value()};  // exists() is not const
        return expectations.exists("100-continue");
    });
}

asio::awaitable<bool> DownstreamSession::send_continue(const AdmittedRequest& request) {
    http::response<http::empty_body> go_on{http::status::continue_, request.line.version};
    tcp_stream().expires_after(limits_.client_body_timeout);
    auto [ec, written] = co_await http::async_write(stream_, go_on, use_nothrow);
    co_return !ec;
}

// Reads until buffer_ holds a whole request header (or limits.max_header_bytes without one:
// header_limit), so that its raw bytes can be checked before Beast parses them; with what the
// check found.
asio::awaitable<std::pair<error_code, RawHeaderScan>> DownstreamSession::read_raw_header() {
    std::size_t empty_lines = 0;  // their bytes count toward limits.max_header_bytes
    for (;;) {
        // Empty lines before the request line are ignored (RFC 9112 2.2): some clients end a body
        // with a CRLF it did not count.
        for (auto text = buffered_text(); text.starts_with("\r\n"); text = buffered_text()) {
            buffer_.consume(2);
            empty_lines += 2;
        }
        const auto raw = buffered_text();
        const auto scan = scan_raw_header(raw);
        if (scan.bare_line_feed) co_return std::pair(error_code(http::error::bad_line_ending), scan);
        if (scan.end != std::string_view::npos) co_return std::pair(error_code{}, scan);
        if (empty_lines + raw.size() >= limits_.max_header_bytes)
            co_return std::pair(error_code(http::error::header_limit), scan);
        // read_size grows the buffer only as needed (as Beast's own reads do), so a kept-alive
        // connection waiting for a small request does not hold max_header_bytes.
        const auto into =
            buffer_.prepare(beast::read_size(buffer_, limits_.max_header_bytes - empty_lines - raw.size()));
        error_code ec;
        std::size_t read = stream_.read_now(into, ec);
        if (read == 0 && !ec) std::tie(ec, read) = co_await stream_.async_read_some(into, use_nothrow);
        buffer_.commit(read);
        if (ec) co_return std::pair(ec, scan);
    }
}

// The whole header is in buffer_ already (read_raw_header): parsed in place, as Beast's
// async_read_header would, without a composed operation and a posted completion per request.
error_code DownstreamSession::parse_buffered_header(common::RequestParser& parser) {
    error_code ec;
    const std::size_t used = parser.put(buffer_.data(), ec);
    buffer_.consume(used);
    if (!ec && !parser.is_header_done()) ec = http::error::need_more;  // read_raw_header saw the blank line
    return ec;
}

// The connection ends with part of a request header received: a device that stalled or left,
// or easgate shutting down. Nothing was forwarded, and the device will send it again.
void DownstreamSession::log_incomplete_header(const error_code& ec) const {
    std::string why = ec.message();
    if (ec == asio::error::operation_aborted && draining()) why = "easgate is shutting down";
    if (ec == beast::error::timeout) why = "no complete header within limits.header_timeout or idle_timeout";
    spdlog::info("{}: closed with an incomplete request header ({} bytes received, nothing forwarded): {}",
                 who(), buffer_.size(), why);
}

// Holds up to limits.upload_read_ahead of the body before Exchange is contacted (IIS's
// uploadReadAheadSize), so that small requests can be retried and slow devices don't tie up
// an Exchange connection. Larger bodies are streamed afterwards. The buffer is sized to what the
// Content-Length announces, else grows as chunks arrive.
asio::awaitable<bool> DownstreamSession::read_ahead(AdmittedRequest& request, common::BodyBytes& body,
                                                    common::BodyRateGuard& rate) {
    auto& parser = request.parser;
    const std::uint64_t limit = limits_.upload_read_ahead;
    if (const auto length = parser.content_length()) body.reserve(std::min<std::uint64_t>(*length, limit));
    // A body arrives a TLS record (up to 16 KiB) at a time: room for one in buffer_ lets each read
    // take a whole record, not the few hundred bytes the header left (here and when streaming on).
    // A held Ping gives the room back (watch()).
    const std::uint64_t coming = parser.content_length_remaining().value_or(body_read_bytes);
    if (!parser.is_done()) buffer_.reserve(buffer_.size() + std::min<std::uint64_t>(coming, body_read_bytes));
    while (!parser.is_done() && body.size() < limit) {
        std::uint64_t room = std::min<std::uint64_t>(limit - body.size(), upstream::relay_chunk_bytes);
        if (const auto left = parser.content_length_remaining()) room = std::min(room, *left);
        const std::size_t filled = body.size();
        body.resize(filled + room);
        auto& chunk = parser.get().body();
        chunk.data = body.data() + filled;
        chunk.size = room;
        error_code ec;
        std::size_t read = 0;
        if (!common::parse_buffered(buffer_, parser, ec, read)) {  // a small body came with its header
            tcp_stream().expires_at(rate.read_deadline());
            auto [waited_error, waited_read] =
                co_await http::async_read_some(stream_, buffer_, parser, use_nothrow);
            ec = waited_error;
            read += waited_read;
        }
        rate.received(read);
        body.resize(filled + room - chunk.size);
        if (ec == http::error::need_buffer) continue;
        if (ec) {
            co_await refuse_body(ec, request, rate);
            co_return false;
        }
    }
    co_return true;
}

// The device's request body failed, during read-ahead or while streaming to Exchange (whose
// connection is closed then, so it never processes the partial request). The same answer and
// log line either way; a device that left gets none, and 499 (nginx's "client closed request")
// in the log.
asio::awaitable<void> DownstreamSession::refuse_body(const error_code& ec, const AdmittedRequest& request,
                                                     const common::BodyRateGuard& rate) {
    if (ec == beast::error::timeout) {
        co_await respond({408, body_timeout_reason(rate), 0}, request, false);
    } else if (ec == http::error::body_limit) {
        co_await respond({413,
                          "request body exceeds limits.max_request_body (" +
                              config::format_size(limits_.max_request_body) + ")",
                          0},
                         request, false);
    } else if (ec == http::error::buffer_overflow) {
        co_await respond(
            bad_request("a chunk-size line or the trailer section of the request body is longer than "
                        "limits.max_header_bytes (" +
                        config::format_size(limits_.max_header_bytes) + ") and one read (64KiB)"),
            request, false);
    } else if (is_disconnect(ec) || ec == http::error::partial_message) {
        co_await respond({client_closed_request,
                          "the device went away while sending its request body (" +
                              std::to_string(rate.received()) + " bytes received); nothing was processed",
                          0},
                         request, false);
    } else {
        co_await respond(bad_request("malformed request body: " + ec.message()), request, false);
    }
}

std::string DownstreamSession::body_timeout_reason(const common::BodyRateGuard& rate) const {
    if (rate.too_slow())
        return "the device sent its request body slower than limits.min_body_rate (" +
               config::format_size(limits_.min_body_rate) + " per second)";
    return "the device sent no more of its request body for limits.client_body_timeout (" +
           config::format_duration(limits_.client_body_timeout) + ")";
}

}  // namespace easgate::listener
