#pragma once

// For tests that drive easgate's own classes (DownstreamSession, UpstreamExchange) in this process
// over loopback sockets: a PKI on disk, a scripted fake Exchange, a fake token source, and a way to
// run a test coroutine on an io_context with a bound, so a broken mechanism fails instead of hanging.

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "easgate/common/result.hpp"
#include "easgate/common/use_nothrow.hpp"
#include "easgate/config/config.hpp"
#include "easgate/upstream/token_source.hpp"

namespace easgate::testing {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using TlsClientStream = beast::ssl_stream<beast::tcp_stream>;
// Completes with (error_code, ...) instead of throwing.
using easgate::common::use_nothrow;

// A server certificate for 127.0.0.1 and a device certificate for alice@example.test (with her
// UPN), made once per process in a temporary folder that is removed at exit.
struct LoopbackPki {
    std::filesystem::path server_ca;  // issued the server certificate
    std::filesystem::path device_ca;  // issued alice's certificate
    std::filesystem::path server_cert, server_key;
    std::filesystem::path alice_cert, alice_key;
};
const LoopbackPki& loopback_pki();

// A listener on 127.0.0.1 with the PKI's server certificate that requires device certificates
// from its device CA.
config::ListenerConfig loopback_listener();
// A TLS server context with the PKI's server certificate that asks for no device certificate.
asio::ssl::context loopback_server_tls();

// Runs test on context in a thread of its own, joined before this returns (so the thread's idle
// upstream pool is gone before the context). Adds a test failure when test does not finish within
// limit, and rethrows what it threw.
void run_bounded(asio::io_context& context, std::function<asio::awaitable<void>()> test,
                 std::chrono::seconds limit = std::chrono::seconds(20));

// Polls condition every few milliseconds until it holds or limit passes; whether it held.
asio::awaitable<bool> eventually(std::function<bool()> condition,
                                 std::chrono::milliseconds limit = std::chrono::seconds(5));

// The device's side of a TLS connection: reads everything until the other side closes or limit passes.
asio::awaitable<std::string> read_to_end(TlsClientStream& stream,
                                         std::chrono::milliseconds limit = std::chrono::seconds(5));

// What the fake Exchange does with each request it receives, in order across its connections.
struct ExchangeStep {
    enum class Act {
        answer,  // writes response (raw bytes) and reads the next request
        close,   // closes the connection without answering
        hold,    // never answers; waits until easgate closes the connection
    };
    Act act = Act::answer;
    std::string response;

    static ExchangeStep answer(std::string raw) { return {Act::answer, std::move(raw)}; }
    static ExchangeStep close() { return {Act::close, {}}; }
    static ExchangeStep hold() { return {Act::hold, {}}; }
};

// "HTTP/1.1 <status>" with Content-Length and body, kept alive, plus extra header lines ("Name: value\r\n").
std::string http_response(unsigned status, const std::string& body, const std::string& extra_fields = {});

// A plain-HTTP Exchange on 127.0.0.1:<any port> that records every request it receives and
// answers per its script (a 500 once the script is used up).
class FakeExchange {
public:
    FakeExchange(asio::any_io_executor executor, std::vector<ExchangeStep> script = {});
    ~FakeExchange();  // closes the listener and every connection
    FakeExchange(const FakeExchange&) = delete;
    FakeExchange& operator=(const FakeExchange&) = delete;

    void script(std::vector<ExchangeStep> steps);
    // Called as each request arrives, after it was recorded.
    void on_request(std::function<void()> callback);
    std::string url() const;  // http://127.0.0.1:<port>
    std::uint16_t port() const;

    const std::vector<http::request<http::string_body>>& requests() const;
    std::size_t connections() const;
    std::size_t held_closed() const;  // held requests whose connection easgate then closed

    struct State;  // shared with its connections, which may outlive it until the context ends

private:
    std::shared_ptr<State> state_;
};

// An upstream of one server, the fake Exchange.
config::UpstreamConfig fake_exchange_upstream(
    const FakeExchange& exchange, config::SendAuthorization send = config::SendAuthorization::always);

// Limits with timeouts short enough for tests, long enough never to fire unless a test wants them to.
config::LimitsConfig short_limits();

// Hands out one token, or one failure, as many times as it is asked. renew() answers false (a
// new ticket would not help) unless the test gives it the token to hand out after a renewal, or
// the renewal's failure.
class FakeTokenSource final : public upstream::TokenSource {
public:
    explicit FakeTokenSource(std::string token) : token_(std::move(token)) {}
    explicit FakeTokenSource(common::Failure failure) : failure_(std::move(failure)) {}

    asio::awaitable<common::Result<std::string>> token(std::string channel_binding) override;
    asio::awaitable<common::Result<bool>> renew() override;
    void accepted() override { ++accepted_; }
    int calls() const { return calls_; }
    int accepted_answers() const { return accepted_; }
    int renewals() const { return renewals_; }
    const std::string& token() const { return token_; }
    void renews_to(std::string token) { renewed_token_ = std::move(token); }
    void renewal_fails(common::Failure failure) { renewal_failure_ = std::move(failure); }

private:
    std::string token_;
    std::optional<common::Failure> failure_;
    std::optional<std::string> renewed_token_;
    std::optional<common::Failure> renewal_failure_;
    int calls_ = 0;
    int renewals_ = 0;
    int accepted_ = 0;
};

}  // namespace easgate::testing
