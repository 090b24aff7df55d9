// DownstreamSession in this process, through start_device_session: a device with alice's
// certificate on a loopback TLS connection, a real filter chain, and a scripted fake Exchange.
#include "easgate/listener/downstream_session.hpp"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/http/read.hpp>

#include "inproc_rig.hpp"
#include "raw_device.hpp"

namespace easgate::testing {
namespace {

using tcp = asio::ip::tcp;

const std::string device_query = "&User=alice&DeviceId=D1&DeviceType=TestDevice";
const std::string common_fields = "Host: gateway.example.test\r\nMS-ASProtocolVersion: 14.1\r\n";
const std::string device_password = "Basic YWxpY2U6cGFzc3dvcmQ=";

std::string sync_post(const std::string& extra_fields = {}) {
    return "POST /Microsoft-Server-ActiveSync?Cmd=Sync" + device_query + " HTTP/1.1\r\n" + common_fields +
           extra_fields + "Content-Length: 11\r\n\r\nsync-body-1";
}

// A Ping without a body: Exchange may hold it up to limits.max_long_poll.
const std::string held_ping = "POST /Microsoft-Server-ActiveSync?Cmd=Ping" + device_query + " HTTP/1.1\r\n" +
                              common_fields + "Content-Length: 0\r\n\r\n";

// The delegation stage's part: the request goes on with these credentials.
class GrantCredentials final : public pipeline::RequestStage {
public:
    explicit GrantCredentials(std::shared_ptr<upstream::TokenSource> tokens) : tokens_(std::move(tokens)) {}
    std::optional<common::Result<>> decide_now(pipeline::RequestContext& request) override {
        request.credentials = tokens_;
        return common::Result<>{};
    }

private:
    std::shared_ptr<upstream::TokenSource> tokens_;
};

class Refuse final : public pipeline::RequestStage {
public:
    explicit Refuse(common::Failure failure) : failure_(std::move(failure)) {}
    std::optional<common::Result<>> decide_now(pipeline::RequestContext&) override {
        return common::Result<>{failure_};
    }

private:
    common::Failure failure_;
};

// A shutdown that begins while the filter chain runs, before anything reached Exchange.
class DrainThenGrant final : public pipeline::RequestStage {
public:
    DrainThenGrant(std::shared_ptr<upstream::TokenSource> tokens,
                   const std::shared_ptr<listener::SessionRegistry>& sessions)
        : grant_(std::move(tokens)), sessions_(sessions) {}
    // Asks "the network": the stage runs under the deadline, with the device watched.
    std::optional<common::Result<>> decide_now(pipeline::RequestContext&) override { return std::nullopt; }
    asio::awaitable<common::Result<>> process(pipeline::RequestContext& request) override {
        sessions_->drain_all();
        co_return co_await grant_.process(request);
    }

private:
    GrantCredentials grant_;
    const std::shared_ptr<listener::SessionRegistry>& sessions_;
};

class DownstreamSessionTest : public ::testing::Test {
protected:
    // The certificate stage, then `last` (by default one that grants the fake token source).
    std::shared_ptr<listener::ListenerRuntime> runtime(std::unique_ptr<pipeline::RequestStage> last = {}) {
        auto chain = std::make_shared<pipeline::RequestPipeline>();
        chain->add(std::make_unique<pipeline::CertificateAuthStage>());
        chain->add(last ? std::move(last) : std::make_unique<GrantCredentials>(tokens_));
        return std::make_shared<listener::ListenerRuntime>(listener::ListenerRuntime{
            short_limits(), "",
            std::make_shared<listener::ServerTlsContext>(loopback_listener(), "listeners[0]"),
            std::make_shared<upstream::Upstream>(fake_exchange_upstream(exchange_), "upstreams[0]"), chain,
            std::make_shared<common::LogRateLimiter>(), std::make_shared<listener::SessionRegistry>()});
    }

    // A device connection to a new session of runtime, after the TLS handshake.
    asio::awaitable<std::unique_ptr<TlsClientStream>> connect_device(
        std::shared_ptr<listener::ListenerRuntime> runtime) {
        const auto executor = co_await asio::this_coro::executor;
        tcp::acceptor acceptor(executor, {asio::ip::make_address("127.0.0.1"), 0});
        auto device = std::make_unique<TlsClientStream>(executor, device_tls_);
        beast::get_lowest_layer(*device).expires_after(std::chrono::seconds(10));
        co_await beast::get_lowest_layer(*device).async_connect(acceptor.local_endpoint(),
                                                                asio::use_awaitable);
        listener::start_device_session(co_await acceptor.async_accept(asio::use_awaitable),
                                       std::move(runtime));
        co_await device->async_handshake(asio::ssl::stream_base::client, asio::use_awaitable);
        co_return device;
    }

    // Writes request and reads one answer (a 0 status when none came).
    static asio::awaitable<http::response<http::string_body>> exchange(TlsClientStream& device,
                                                                       const std::string& request) {
        beast::get_lowest_layer(device).expires_after(std::chrono::seconds(10));
        co_await asio::async_write(device, asio::buffer(request), asio::use_awaitable);
        beast::flat_buffer buffer;
        http::response<http::string_body> response;
        auto [ec, read] = co_await http::async_read(device, buffer, response, use_nothrow);
        if (ec) response.result(0);
        co_return response;
    }

    // One request on a new connection, its answer.
    http::response<http::string_body> answer_to(const std::string& request,
                                                std::unique_ptr<pipeline::RequestStage> last = {}) {
        auto shared = runtime(std::move(last));
        http::response<http::string_body> response;
        run_bounded(context_, [&]() -> asio::awaitable<void> {
            auto device = co_await connect_device(shared);
            response = co_await exchange(*device, request);
        });
        return response;
    }

    asio::io_context context_;
    asio::ssl::context device_tls_ =
        device_tls(loopback_pki().server_ca, loopback_pki().alice_cert, loopback_pki().alice_key);
    FakeExchange exchange_{context_.get_executor()};
    std::shared_ptr<FakeTokenSource> tokens_ = std::make_shared<FakeTokenSource>("dG9rZW4tZm9yLWFsaWNl");
};

TEST_F(DownstreamSessionTest, ActiveSyncPostGoesToExchangeWithTheTokenInsteadOfTheDevicePassword) {
    exchange_.script({ExchangeStep::answer(http_response(200, "sync-answer"))});
    const auto response = answer_to(sync_post("Authorization: " + device_password + "\r\n"));

    EXPECT_EQ(response.result_int(), 200u);
    EXPECT_EQ(response.body(), "sync-answer");
    ASSERT_EQ(exchange_.requests().size(), 1u);
    const auto& received = exchange_.requests()[0];
    EXPECT_EQ(received.count(http::field::authorization), 1u);
    EXPECT_EQ(received[http::field::authorization], "Negotiate " + tokens_->token());
    EXPECT_EQ(received.body(), "sync-body-1");
    EXPECT_EQ(received["X-Forwarded-For"], "127.0.0.1");
    for (const auto& field : received)
        EXPECT_EQ(field.value().find("Basic"), std::string::npos) << field.value();
    // The device's other fields go on: removing its Authorization must not cost them (until s32 the
    // trailer cut counted the fields from before it, and dropped them all).
    EXPECT_EQ(received["MS-ASProtocolVersion"], "14.1");
}

TEST_F(DownstreamSessionTest, KeptAliveDeviceReusesTheUsersExchangeConnectionWithATokenEachTime) {
    exchange_.script({ExchangeStep::answer(http_response(200, "first")),
                      ExchangeStep::answer(http_response(200, "second"))});
    auto shared = runtime();
    std::vector<std::string> bodies;
    run_bounded(context_, [&]() -> asio::awaitable<void> {
        auto device = co_await connect_device(shared);
        for (int i = 0; i < 2; ++i) bodies.push_back((co_await exchange(*device, sync_post())).body());
    });
    EXPECT_EQ(bodies, (std::vector<std::string>{"first", "second"}));
    ASSERT_EQ(exchange_.requests().size(), 2u);
    EXPECT_EQ(exchange_.connections(), 1u);  // given back to the idle pool, and taken again
    for (const auto& received : exchange_.requests())
        EXPECT_EQ(received[http::field::authorization], "Negotiate " + tokens_->token());
    EXPECT_EQ(tokens_->calls(), 2);
}

TEST_F(DownstreamSessionTest, StageFailureIsTheDevicesAnswerAndExchangeGetsNothing) {
    const auto response =
        answer_to(sync_post(),
                  std::make_unique<Refuse>(common::Failure::refused("alice is disabled in the directory")));

    EXPECT_EQ(response.result_int(), 403u);
    EXPECT_TRUE(exchange_.requests().empty());
    EXPECT_EQ(exchange_.connections(), 0u);
}

TEST_F(DownstreamSessionTest, ConnectionNamingContentLengthIsRefusedBeforeExchange) {
    const auto response = answer_to(sync_post("Connection: Content-Length\r\n"));

    EXPECT_EQ(response.result_int(), 400u);
    EXPECT_TRUE(exchange_.requests().empty());
    EXPECT_EQ(exchange_.connections(), 0u);
}

TEST_F(DownstreamSessionTest, DeviceLeavingAHeldPingClosesExchangesConnection) {
    exchange_.script({ExchangeStep::hold()});
    auto shared = runtime();
    run_bounded(context_, [&]() -> asio::awaitable<void> {
        auto device = co_await connect_device(shared);
        co_await asio::async_write(*device, asio::buffer(held_ping), asio::use_awaitable);
        EXPECT_TRUE(co_await eventually([&] { return exchange_.requests().size() == 1; }));
        beast::get_lowest_layer(*device).close();  // the phone roams away
        // limits.max_long_poll is a minute: only the session's watch closes it this soon.
        EXPECT_TRUE(co_await eventually([&] { return exchange_.held_closed() == 1; }));
    });
    EXPECT_EQ(exchange_.requests().size(), 1u);
}

TEST_F(DownstreamSessionTest, DrainAnswersAHeldPingEarlyWithAnEmpty200) {
    exchange_.script({ExchangeStep::hold()});
    auto shared = runtime();
    bool answered = false;
    // A drain that comes while the request is still being sent lets it finish, and then be held:
    // like a shutdown that waits, the test drains again until the Ping is answered.
    exchange_.on_request([&] {
        asio::co_spawn(
            context_,
            [&]() -> asio::awaitable<void> {
                asio::steady_timer again(context_);
                while (!answered) {
                    shared->sessions->drain_all();
                    again.expires_after(std::chrono::milliseconds(20));
                    co_await again.async_wait(use_nothrow);
                }
            },
            asio::detached);
    });
    http::response<http::string_body> response;
    run_bounded(context_, [&]() -> asio::awaitable<void> {
        auto device = co_await connect_device(shared);
        response = co_await exchange(*device, held_ping);
        answered = true;
        EXPECT_TRUE(co_await eventually([&] { return exchange_.held_closed() == 1; }));
    });
    EXPECT_EQ(response.result_int(), 200u);
    EXPECT_EQ(response.body(), "");
    EXPECT_FALSE(response.keep_alive());
    EXPECT_EQ(exchange_.requests().size(), 1u);
}

TEST_F(DownstreamSessionTest, ADrainThatBeganBeforeTheLongPollWasHeldAnswersItAtOnce) {
    exchange_.script({ExchangeStep::hold()});
    std::shared_ptr<listener::SessionRegistry> sessions;
    auto shared = runtime(std::make_unique<DrainThenGrant>(tokens_, sessions));
    sessions = shared->sessions;
    http::response<http::string_body> response;
    run_bounded(context_, [&]() -> asio::awaitable<void> {
        auto device = co_await connect_device(shared);
        response = co_await exchange(*device, held_ping);
    });
    EXPECT_EQ(response.result_int(), 200u);
    EXPECT_EQ(response.body(), "");
    EXPECT_FALSE(response.keep_alive());
}

}  // namespace
}  // namespace easgate::testing
