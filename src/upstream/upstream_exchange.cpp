#include "easgate/upstream/upstream_exchange.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/http.hpp>
#include <tuple>

#include "easgate/common/body_relay.hpp"
#include "easgate/common/use_nothrow.hpp"
#include "easgate/upstream/backend_diagnosis.hpp"
#include "easgate/upstream/upstream.hpp"

namespace easgate::upstream {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
using error_code = boost::system::error_code;
using common::Failure;
using easgate::common::use_nothrow;

}  // namespace

Failure UpstreamExchange::broke_off_receiving(const std::string& url, const error_code& error) {
    return Failure::unavailable(
        "upstream " + url +
        " broke the connection while receiving the request (not replayed): " + error.message());
}

ExchangeEnd UpstreamExchange::fail(const DeviceRequest& request, Failure failure) {
    return ExchangeEnd::failed(std::move(failure), request.device_kept());
}

// The state of one request's tries: on_challenge sends it twice, a refused ticket or a stale
// kept-alive connection once more.
struct UpstreamExchange::Attempt {
    bool challenge_first = false;  // on_challenge: the token waits until Exchange asks for it
    bool challenged = false;       // Exchange answered 401: the next try carries the token
    bool renewed = false;          // Exchange refused a token: its ticket was renewed, once per request
    bool retried_fresh = false;    // a kept-alive connection that took none of the request: one retry
    bool reused = false;           // this try runs on a connection that carried earlier requests
    // Exchange broke the connection while taking the body, having taken some: why. Its answer may
    // have come first, and the connection is never reused.
    boost::system::error_code cut_off;
    common::BodyBytes scratch;  // for streaming the body beyond the read-ahead
    // The Authorization sent: the token easgate put on the header, or the device's own (optional mode).
    std::size_t authorization_bytes = 0;
};

UpstreamExchange::UpstreamExchange(asio::any_io_executor executor, std::shared_ptr<Upstream> upstream,
                                   const config::LimitsConfig& limits, std::string public_name)
    : executor_(executor),
      upstream_(std::move(upstream)),
      limits_(limits),
      public_name_(std::move(public_name)),
      connection_(std::move(executor)) {}

namespace {

// Empties UpstreamExchange::response_ when forward() ends, however it ends: an idle device
// connection keeps no header block.
struct ResponseHeadRelease {
    std::optional<ResponseHead>& head;
    ~ResponseHeadRelease() { head.reset(); }
};

}  // namespace

asio::awaitable<ExchangeEnd> UpstreamExchange::forward(DeviceRequest& request, DeviceWatch& watch) {
    Attempt attempt;
    attempt.challenge_first = request.credentials && request.buffered &&
                              upstream_->send_authorization() == config::SendAuthorization::on_challenge;
    attempt.scratch.resize(request.buffered ? 0 : relay_chunk_bytes);
    const ResponseHeadRelease release_at_end{response_};
    auto& response = response_;
    std::optional<InFlight> in_flight;  // counts toward the server's outstanding requests
    trip_ = {};
    for (;;) {
        if (attempt.cut_off) connection_.close();  // a try Exchange cut off leaves nothing to reuse
        attempt.cut_off = {};
        // One taken from the idle pool was probed there; only a connection kept with the device
        // connection (no certificate user) needs the probe here. After a stale one, a new
        // connection: another pooled one may be as stale.
        attempt.reused = (!attempt.retried_fresh && take_idle(request.user)) ||
                         (connection_.reusable() && upstream_->may_reuse(connection_.server()));
        if (!attempt.reused) {
            if (auto failure = co_await connect(request.user, request.who))
                co_return fail(request, {failure->status, failure->reason,
                                         failure->local ? common::retry_after_seconds : 0});
        }
        in_flight.emplace(*upstream_, connection_.server());
        trip_.server = &connection_.target();
        if (!request.credentials) {  // optional mode: the device's own Authorization, untouched
            attempt.authorization_bytes = request.parser.get()[http::field::authorization].size();
        } else if (auto ended = co_await authorize(request, attempt)) {
            // The connection carried nothing of this try: back to its user's pool, not left open
            // for this device connection's next request, which may be another user's.
            release(request.user);
            co_return *ended;
        }
        const auto sent_at = std::chrono::steady_clock::now();
        if (auto ended = co_await send(request, attempt)) co_return *ended;
        if (!connection_.is_open()) continue;  // a stale connection took nothing: once more, on a new one
        const bool may_resend = kept_for_resend(request, attempt);
        if (!may_resend) keep_nothing(request, attempt);
        if (attempt.cut_off) {
            if (auto ended = co_await read_early_answer(request, attempt.cut_off, response)) co_return *ended;
        } else if (auto ended = co_await read_response_header(request, watch, response)) {
            co_return *ended;
        }
        trip_.to_header = std::chrono::steady_clock::now() - sent_at;
        if (!request.deadline.long_poll) upstream_->response_seconds().observe(trip_.to_header);
        // A 401: Exchange did not process the request. Sent without the token, it goes again with
        // it; with the token, its ticket is renewed once.
        if (!request.credentials) break;
        if (const unsigned status = response->parser.get().result_int(); status != 401) {
            if (attempt.authorization_bytes == 0) break;
            request.credentials->accepted();
            // IIS answers some refusals before it authenticates (HTTP.sys's 400, request
            // filtering's 404.x): only an answer Exchange served counts, the rest keep the token coming.
            connection_.authenticated(status < 400 && !attempt.cut_off);
            break;
        }
        if (attempt.authorization_bytes > 0) {
            if (attempt.renewed) break;
            attempt.renewed = attempt.challenged = true;
            if (auto ended = co_await renew_credentials(request, may_resend)) co_return *ended;
            if (connection_.is_open()) break;  // a new ticket would not help: the 401 goes to the device
            continue;
        }
        if (!may_resend || !asks_for_negotiate(response->parser.get())) break;
        attempt.challenged = true;
        spdlog::debug("{}: upstream {} asked for credentials; sending the request again with them",
                      request.who, connection_.target().url);
        co_await discard_response_body(response->parser);
    }
    auto ended =
        co_await relay_response(request, response->parser, attempt.authorization_bytes, watch.draining());
    if (attempt.cut_off) connection_.close();  // what it left unread of the request ends with it
    in_flight.reset();
    release(request.user);
    co_return ended;
}

// Nothing of the request is kept while Exchange thinks: neither its body nor, while Exchange holds a
// long poll, its header (a held Ping keeps neither the header's block nor the token, a few KiB: the
// PAC grows with the user's groups). Other answers come in moments: only the token goes. Its size
// stays in attempt.authorization_bytes for a 400's diagnosis.
void UpstreamExchange::keep_nothing(DeviceRequest& request, Attempt& attempt) {
    common::BodyBytes().swap(request.read_ahead);
    common::BodyBytes().swap(attempt.scratch);
    if (request.deadline.long_poll) {
        common::drop_header(request.parser.get());
    } else if (request.credentials && attempt.authorization_bytes > 0) {
        request.parser.get().erase(http::field::authorization);
    }
}

// Whether the request is kept for another try while Exchange thinks: Exchange may yet ask for the
// token (on_challenge) or refuse it. A held long poll keeps nothing then, unless on_challenge needs it.
bool UpstreamExchange::kept_for_resend(const DeviceRequest& request, const Attempt& attempt) {
    if (!request.credentials || !request.buffered) return false;
    if (attempt.challenge_first && !attempt.challenged) return true;
    return !attempt.renewed && !request.deadline.long_poll;
}

// Exchange refused the token (401). The ticket may be one Exchange no longer accepts (the password
// or keytab of the account with the SPN changed since it was issued): it is renewed once, the
// connection closed, and the request sent again with the new one when it was kept for that;
// otherwise the device is asked to try again. Renewing would not help: nullopt with the connection
// open, and the 401 goes to the device.
asio::awaitable<std::optional<ExchangeEnd>> UpstreamExchange::renew_credentials(DeviceRequest& request,
                                                                                bool may_resend) {
    auto renewed = co_await request.credentials->renew();
    if (renewed && !*renewed) co_return std::nullopt;
    const std::string url = connection_.target().url;
    connection_.close();
    if (!renewed) co_return fail(request, renewed.error());
    spdlog::warn(
        "{}: upstream {} refused the Kerberos ticket easgate had for the user (401): Exchange no longer "
        "accepts it, most likely because the password or keytab of the account with the SPN changed since it "
        "was issued. easgate dropped it and obtained a new one from the KDC; {}",
        request.who, url,
        may_resend ? "the request goes again with it" : "the device's next request carries it");
    if (may_resend) co_return std::nullopt;
    co_return fail(request,
                   Failure::unavailable("upstream " + url +
                                        " refused the user's Kerberos ticket; easgate obtained a new "
                                        "one for the device's next request (this one was not kept "
                                        "to be sent again)")
                       .because("ticket_renewed"));
}

// Puts the user's token (request.credentials) on the request for this try. Unless on_challenge holds it back
// until Exchange asks, it goes with every request; with Extended Protection it is bound to the connection.
asio::awaitable<std::optional<ExchangeEnd>> UpstreamExchange::authorize(DeviceRequest& request,
                                                                        Attempt& attempt) {
    auto& header = request.parser.get();
    // This upstream connection only ever carries this device's user, so a backend that keeps
    // Kerberos authentication per connection needs the token only until it served a request with it;
    // except a request that can't go again should Exchange ask for it after all (a held long poll, a
    // streamed body): a load balancer reusing its connections to Exchange, or IIS with
    // authPersistNonNTLM off, would have its bare 401 reach the phone, which asks for a password.
    const bool skip_token = upstream_->authentication() == config::UpstreamAuthentication::per_connection &&
                            connection_.authenticated() && kept_for_resend(request, attempt);
    const bool send_token = attempt.challenged || (!attempt.challenge_first && !skip_token);
    // The last try's token, if it had one (erasing by name costs a search); the device's own was
    // dropped with the hop-by-hop fields.
    if (attempt.authorization_bytes > 0) header.erase(http::field::authorization);
    attempt.authorization_bytes = 0;
    if (send_token) {
        auto token = co_await request.credentials->token(connection_.channel_binding());
        if (!token) co_return fail(request, token.error());
        const std::string value = "Negotiate " + *token;
        header.insert(http::field::authorization, value);  // none left to replace: no second search
        attempt.authorization_bytes = value.size();
    }
    co_return std::nullopt;
}

// Sends the request: the read-ahead first, then (for large bodies) the rest as it arrives. A
// kept-alive connection that Exchange closed meanwhile took nothing of it: the connection is closed
// and nullopt returned, for one more try on a new connection.
asio::awaitable<std::optional<ExchangeEnd>> UpstreamExchange::send(DeviceRequest& request, Attempt& attempt) {
    auto& header = request.parser.get();
    address_request(
        header.base(), connection_.target(), request.framing,
        request.buffered ? std::optional<std::uint64_t>(request.read_ahead.size()) : std::nullopt);
    header.version(11);
    common::MessageWriter writer{header.base()};
    const auto sent = co_await connection_.visit([&](auto& upstream) {
        return common::relay_body(
            request.stream, request.buffer, request.parser, upstream, writer,
            std::span<char>(request.read_ahead), std::span<char>(attempt.scratch),
            {limits_.client_body_timeout, limits_.upstream_timeout, &request.body_rate});
    });
    if (sent.ok()) co_return std::nullopt;
    if (sent.failed == common::RelaySide::output && sent.written > 0) {  // see read_early_answer
        attempt.cut_off = sent.error;
        co_return std::nullopt;
    }
    connection_.close();
    if (sent.failed == common::RelaySide::input)  // the device's body went wrong mid-stream
        co_return ExchangeEnd::device_body_failed(sent.error);
    if (attempt.reused && request.buffered && sent.written == 0 && !attempt.retried_fresh) {
        attempt.retried_fresh = true;
        spdlog::debug(
            "{}: upstream {} had closed the kept-alive connection ({}); sending the request on a new one",
            request.who, connection_.target().url, sent.error.message());
        co_return std::nullopt;
    }
    co_return fail(request, broke_off_receiving(connection_.target().url, sent.error));
}
}  // namespace easgate::upstream
