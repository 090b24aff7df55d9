#pragma once

// UpstreamExchange in this process: a device on a loopback TLS connection, a scripted fake Exchange
// on loopback HTTP, a fake token source and a fake DeviceWatch. Each test says what Exchange
// received and what the device got.
#include <gtest/gtest.h>

#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/http/read.hpp>

#include "easgate/upstream/upstream_exchange.hpp"
#include "inproc_rig.hpp"
#include "raw_device.hpp"

namespace easgate::testing {

using namespace asio::experimental::awaitable_operators;
using tcp = asio::ip::tcp;
using upstream::ExchangeEnd;

const std::string sync_post =
    "POST /Microsoft-Server-ActiveSync?Cmd=Sync&User=alice&DeviceId=D1&DeviceType=TestDevice HTTP/1.1\r\n"
    "Host: gateway.example.test\r\nMS-ASProtocolVersion: 14.1\r\nContent-Length: 11\r\n\r\nsync-body-1";

// Plays the session's side of a long poll: on watch(), runs what the test scripted.
class FakeWatch final : public upstream::DeviceWatch {
public:
    std::function<void()> on_watch;
    bool left = false;
    bool drain = false;
    int watched = 0;

    void watch() override {
        ++watched;
        if (on_watch) on_watch();
    }
    asio::awaitable<void> stop_watching() override { co_return; }
    bool device_left() const override { return left; }
    bool draining() const override { return drain; }
};

struct Options {
    std::shared_ptr<upstream::TokenSource> credentials;
    config::SendAuthorization send = config::SendAuthorization::always;
    std::chrono::milliseconds deadline = std::chrono::seconds(10);
    bool long_poll = false;
    std::string user = "alice@example.test";
    config::UpstreamAuthentication authenticate = config::UpstreamAuthentication::per_request;
};

struct Outcome {
    std::optional<ExchangeEnd> end;
    std::string device_got;  // every byte the device received
};

class UpstreamExchangeTest : public ::testing::Test {
protected:
    // The device writes raw_request; the request header and its whole body are read as the session
    // would, and handed to the UpstreamExchange of the test's device connection (one per test, as a
    // session has one); then the device reads what came back.
    Outcome forward(const std::string& raw_request, const Options& options) {
        Outcome outcome;
        run_bounded(context_,
                    [&]() -> asio::awaitable<void> { outcome = co_await forward_in(raw_request, options); });
        return outcome;
    }

    // forward()'s work, in a run of the context (whose thread has its own idle pool).
    asio::awaitable<Outcome> forward_in(const std::string& raw_request, const Options& options) {
        Outcome outcome;
        if (!exchange_object_) {
            auto config = fake_exchange_upstream(exchange_, options.send);
            config.authenticate = options.authenticate;
            upstream_ = std::make_shared<upstream::Upstream>(std::move(config), "upstreams[0]");
            exchange_object_.emplace(context_.get_executor(), upstream_, limits_, "");
        }
        {
            auto [server, device] = co_await device_connection();
            co_await asio::async_write(device, asio::buffer(raw_request), asio::use_awaitable);
            beast::flat_buffer buffer;
            common::RequestParser parser;
            co_await http::async_read_header(server, buffer, parser, asio::use_awaitable);
            const upstream::BodyFraming framing{
                parser.chunked(),
                parser.content_length() ? std::optional(*parser.content_length()) : std::nullopt};
            auto body = co_await read_body(server, buffer, parser);
            const auto& header = parser.get();
            const upstream::RequestLine line{std::string(header.method_string()),
                                             std::string(header.target()),
                                             std::string(header[http::field::host]),
                                             header.version(),
                                             header.keep_alive(),
                                             false};
            common::BodyRateGuard rate(limits_.min_body_rate, limits_.client_body_timeout);
            const std::string who = "127.0.0.1 " + options.user;  // the request holds a view of it
            upstream::DeviceRequest request{
                server,       buffer,
                parser,       std::move(body),
                true,         framing,
                line,         {options.deadline, "the test's deadline", options.long_poll},
                rate,         options.credentials,
                options.user, who};
            watched_exchange_ = &*exchange_object_;
            outcome.end = co_await exchange_object_->forward(request, watch_);
            watched_exchange_ = nullptr;
            beast::get_lowest_layer(server).close();  // the device reads to the end of what was relayed
            outcome.device_got = co_await read_to_end(device);
        }
        co_return outcome;
    }

    // Both ends of a device's TLS connection: the side UpstreamExchange writes to, and the device.
    asio::awaitable<std::tuple<upstream::DeviceStream, TlsClientStream>> device_connection() {
        const auto executor = co_await asio::this_coro::executor;
        tcp::acceptor acceptor(executor, {asio::ip::make_address("127.0.0.1"), 0});
        TlsClientStream device(executor, device_tls_);
        co_await beast::get_lowest_layer(device).async_connect(acceptor.local_endpoint(),
                                                               asio::use_awaitable);
        upstream::DeviceStream server(co_await acceptor.async_accept(asio::use_awaitable), server_tls_);
        co_await (server.async_handshake(asio::ssl::stream_base::server, asio::use_awaitable) &&
                  device.async_handshake(asio::ssl::stream_base::client, asio::use_awaitable));
        co_return std::tuple{std::move(server), std::move(device)};
    }

    // The whole body, as the session's read-ahead holds it for a buffered request.
    static asio::awaitable<common::BodyBytes> read_body(upstream::DeviceStream& stream,
                                                        beast::flat_buffer& buffer,
                                                        common::RequestParser& parser) {
        common::BodyBytes body;
        char chunk[4096];
        while (!parser.is_done()) {
            parser.get().body().data = chunk;
            parser.get().body().size = sizeof chunk;
            auto [ec, read] = co_await http::async_read_some(stream, buffer, parser, use_nothrow);
            body.insert(body.end(), chunk, chunk + sizeof chunk - parser.get().body().size);
            if (ec && ec != http::error::need_buffer) throw boost::system::system_error(ec);
        }
        co_return body;
    }

    // Exchange holds a long poll; once the exchange waits for the answer, the device leaves (or
    // easgate drains), as the session's watch would tell it.
    Outcome held_long_poll(bool device_leaves) {
        exchange_.script({ExchangeStep::hold()});
        watch_.on_watch = [this, device_leaves] {
            asio::post(context_, [this, device_leaves] {  // after the exchange started reading the answer
                (device_leaves ? watch_.left : watch_.drain) = true;
                if (watched_exchange_) watched_exchange_->cancel();
            });
        };
        return forward(sync_post, {tokens_, {}, std::chrono::seconds(30), true});
    }

    asio::io_context context_;
    asio::ssl::context server_tls_ = loopback_server_tls();
    asio::ssl::context device_tls_ =
        device_tls(loopback_pki().server_ca, loopback_pki().alice_cert, loopback_pki().alice_key);
    FakeExchange exchange_{context_.get_executor()};
    config::LimitsConfig limits_ = short_limits();
    std::shared_ptr<upstream::Upstream> upstream_;  // the fake Exchange as its only server
    std::optional<upstream::UpstreamExchange> exchange_object_;
    std::shared_ptr<FakeTokenSource> tokens_ = std::make_shared<FakeTokenSource>("dG9rZW4tZm9yLWFsaWNl");
    FakeWatch watch_;
    upstream::UpstreamExchange* watched_exchange_ = nullptr;
};

}  // namespace easgate::testing
