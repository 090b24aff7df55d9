// Exchange's answer on its way to the device: 451 routing, the 400 and 401 diagnoses, framing.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/http.hpp>

#include "easgate/common/body_relay.hpp"
#include "easgate/common/use_nothrow.hpp"
#include "easgate/config/units.hpp"
#include "easgate/upstream/backend_diagnosis.hpp"
#include "easgate/upstream/mailbox_redirect.hpp"
#include "easgate/upstream/upstream_exchange.hpp"

namespace easgate::upstream {
namespace {

namespace asio = boost::asio;
using easgate::common::use_nothrow;

// Frames Exchange's body for the device from what the parser read, never from header fields
// Exchange named in Connection. False when only closing the connection can end the body (an
// HTTP/1.0 device knows no chunked coding).
bool frame_response_for_device(common::ResponseParser& parser, const RequestLine& line) {
    auto& response = parser.get();
    response.version(line.version);
    response.erase(http::field::transfer_encoding);
    if (line.head) return true;  // no body follows; Exchange's Content-Length says what a GET would get
    // Nor after a 204 or 304, whatever the framing fields say (RFC 9112 6.3); a 304's Content-Length
    // says what a 200 would have carried, a 204 may have none (RFC 9110 8.6).
    if (const unsigned status = response.result_int(); status == 204 || status == 304) {
        if (status == 204) response.erase(http::field::content_length);
        return true;
    }
    if (const auto length = parser.content_length(); length && !parser.chunked()) {
        response.content_length(*length);
        return true;
    }
    response.erase(http::field::content_length);
    if (parser.is_done() && !parser.chunked()) return true;  // no body
    if (line.version < 11) return false;                     // sent as it comes, ended by the close
    response.chunked(true);
    return true;
}

}  // namespace

// Passive health: the answer says whether its server serves. Here, not in a coroutine: the
// reason's string stays out of the frames.
void UpstreamExchange::judge_server(const common::ResponseHeader& answer, std::string_view user,
                                    bool token_sent) {
    const std::size_t server = connection_.server();
    const auto verdict = judge_server_answer(answer, token_sent);
    if (verdict.kind == ServerVerdict::Kind::serves) {
        upstream_->record_success(server, std::chrono::steady_clock::now() - trip_.to_header);
    } else if (verdict.kind == ServerVerdict::Kind::fails) {
        upstream_->record_failure(server, verdict.reason, user);
    }
}

asio::awaitable<ExchangeEnd> UpstreamExchange::relay_response(DeviceRequest& request,
                                                              common::ResponseParser& parser,
                                                              std::size_t authorization_bytes,
                                                              bool draining) {
    const bool pooled = !request.user.empty();
    auto& response = parser.get();
    const unsigned status = response.result_int();
    if (tells_server_health(request.line.target))
        judge_server(response.base(), request.user,
                     request.credentials != nullptr && authorization_bytes > 0);
    // The parser's word, not the header's: an answer framed by the close ends its connection.
    bool keep_upstream = parser.keep_alive();
    // Followed whether or not Exchange closes the connection: the device must get easgate's location.
    if (status == 451 && follow_mailbox_redirect(response, request)) keep_upstream = false;
    // A refused token may have left the connection's authentication state unknown (a backend
    // that authenticates per connection would serve the next request unauthenticated or
    // blame a ticket never sent): it is not reused.
    if (status == 401 && pooled) {
        keep_upstream = false;
        if (authorization_bytes > 0) upstream_->count_token_refused();
        log_backend_refusal(request, response.base(), authorization_bytes > 0);
    }
    rewrite_response_for_device(response.base(), pooled);
    const bool keep = frame_response_for_device(parser, request.line) && request.device_kept() && !draining;
    response.keep_alive(keep);
    if (status == 400 && authorization_bytes > 0)  // an answer to HEAD has no body to look into
        co_await diagnose_backend_400(request, response.reason(),
                                      request.line.head ? boost::none : parser.content_length(),
                                      authorization_bytes);

    // Most answers are a few KiB: a block of the smaller size the thread recycles then.
    common::BodyBytes scratch(common::buffer_memory::block_for(std::min<std::uint64_t>(
        parser.content_length_remaining().value_or(relay_chunk_bytes), relay_chunk_bytes)));
    common::MessageWriter writer{response.base()};
    // Beast reads no more than the buffer's free room (512 bytes on a fresh connection), and each
    // read goes on to the device as a TLS record of its own: room for a chunk at a time while the
    // body is relayed, none kept while the connection waits for its next request.
    auto& buffer = connection_.buffer();
    buffer.reserve(scratch.size());
    const auto relayed = co_await connection_.visit([&](auto& upstream) {
        return common::relay_body(upstream, buffer, parser, request.stream, writer, {}, scratch,
                                  {limits_.upstream_timeout, limits_.client_body_timeout});
    });
    if (buffer.size() == 0) buffer.shrink_to_fit();
    trip_.body_bytes = relayed.body_bytes;
    if (!relayed.ok() || !keep_upstream || !parser.is_done()) connection_.close();
    if (relayed.ok()) co_return ExchangeEnd::relayed(status, keep);
    if (relayed.failed == common::RelaySide::input) {
        const std::string why = relayed.error == http::error::buffer_overflow
                                    ? "a chunk-size line or its trailer section is longer than " +
                                          config::format_size(upstream_header_limit)
                                    : relayed.error.message();
        const std::string reason = "upstream " + connection_.target().url + " broke off its response: " + why;
        // Nothing of it went to the device yet (its header waits to go with the body's first
        // bytes): easgate answers it itself, as when no answer came.
        if (relayed.written == 0)
            co_return ExchangeEnd::failed(common::Failure::bad_gateway(reason), request.device_kept());
        co_return ExchangeEnd::broken(status, reason);
    }
    co_return ExchangeEnd::broken(status,
                                  "Exchange's answer (" + std::to_string(status) +
                                      ") did not reach the device: " + relayed.error.message(),
                                  relayed.error);
}

// 451 with X-MS-Location: the user's mailbox is served by another Exchange server. The device
// keeps talking to easgate (its copy of the location names easgate), and easgate routes the
// user there when that server is in the upstream. True when later requests go elsewhere.
bool UpstreamExchange::follow_mailbox_redirect(common::ResponseHeader& response,
                                               const DeviceRequest& request) {
    const std::string location(response["X-MS-Location"]);
    const auto parsed = parse_mailbox_location(location);
    const auto server = parsed ? upstream_->find_server(parsed->server) : std::nullopt;
    if (!server || request.user.empty()) {
        spdlog::warn(
            "{}: upstream {} answered 451 with X-MS-Location \"{}\", which names no server of "
            "upstream {}: relayed unchanged, so the device will connect there directly. Add that "
            "server to upstreams[].servers to keep the device on easgate",
            request.who, connection_.target().url, location, upstream_->name());
        return false;
    }
    const std::string gateway_host = public_name_.empty() ? request.line.host : public_name_;
    if (gateway_host.empty()) {  // an HTTP/1.0 request without Host: no name of easgate to give
        spdlog::warn(
            "{}: upstream {} answered 451 with X-MS-Location \"{}\" to a request without Host: relayed "
            "unchanged. Set listeners[].public_name to the name devices use for easgate",
            request.who, connection_.target().url, location);
        return false;
    }
    response.set("X-MS-Location", location_on_gateway(*parsed, gateway_host));
    upstream_->route_user_to(request.user, *server);
    spdlog::info("{}: the mailbox is on {} (451 from {}): the user's requests go there from now on",
                 request.who, upstream_->server(*server).url, connection_.target().url);
    return true;
}

// A 400 to a request with a large Kerberos token is most often HTTP.sys refusing the header.
// Its text is in the reason or the start of the body, already in the upstream buffer.
asio::awaitable<void> UpstreamExchange::diagnose_backend_400(const DeviceRequest& request,
                                                             std::string_view reason,
                                                             boost::optional<std::uint64_t> body_length,
                                                             std::size_t authorization_bytes) {
    // The body may follow in its own TLS record: read ahead of the parser, which then finds it
    // in the buffer.
    const std::size_t wanted = std::min<std::uint64_t>(body_length.value_or(0), 4096);
    auto& buffer = connection_.buffer();
    while (buffer.size() < wanted) {
        connection_.tcp().expires_after(limits_.upstream_timeout);
        auto [ec, read] = co_await connection_.visit([&](auto& upstream) {
            return upstream.async_read_some(buffer.prepare(wanted - buffer.size()), use_nothrow);
        });
        buffer.commit(read);
        if (ec) break;  // the relay that follows meets the same error and handles it
    }
    const auto buffered = buffer.data();
    const std::string_view body_start(static_cast<const char*>(buffered.data()),
                                      std::min<std::size_t>(buffered.size(), 4096));
    if (!says_header_too_long(reason, body_start)) co_return;
    spdlog::warn(
        "{}: upstream {} refused the request as too long (400 \"{}\"): its Authorization header was {} "
        "bytes, because the user's Kerberos ticket lists many groups. On every Exchange server raise "
        "MaxFieldLength and MaxRequestBytes "
        "(HKLM\\SYSTEM\\CurrentControlSet\\Services\\HTTP\\Parameters, "
        "then restart HTTP.sys) to at least {} bytes, or reduce the user's groups",
        request.who, connection_.target().url, std::string(reason), authorization_bytes,
        authorization_bytes + 1024);
}

// Exchange answered 401 to a user's request: say what it offered, which cause that points to, and the remedy.
void UpstreamExchange::log_backend_refusal(const DeviceRequest& request,
                                           const common::ResponseHeader& response, bool token_sent) const {
    const auto refusal =
        read_backend_refusal(challenges_of(response), token_sent, request.credentials != nullptr,
                             clock_ahead_of(response[http::field::date], std::chrono::system_clock::now()));
    const long suppressed = upstream_->refusal_log().admit(connection_.target().url + refusal.cause);
    if (suppressed < 0) return;  // the access log still has each 401
    spdlog::warn("{}: upstream {} answered 401 (WWW-Authenticate offers {}): {}. Remedy: {}{}", request.who,
                 connection_.target().url, refusal.offered, refusal.cause, refusal.remedy,
                 common::suppressed_note(suppressed));
}

}  // namespace easgate::upstream
