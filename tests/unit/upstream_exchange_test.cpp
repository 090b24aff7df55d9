// UpstreamExchange in this process: a device on a loopback TLS connection, a scripted fake Exchange
// on loopback HTTP, a fake token source and a fake DeviceWatch. Each test says what Exchange
// received and what the device got.
#include <array>
#include <ctime>

#include "captured_log.hpp"
#include "cdp_server.hpp"
#include "upstream_exchange_fixture.hpp"

namespace easgate::testing {
namespace {

TEST_F(UpstreamExchangeTest, BufferedPostIsRelayedOnceWithTheToken) {
    exchange_.script({ExchangeStep::answer(http_response(200, "sync-answer"))});
    const auto outcome = forward(sync_post, {tokens_});

    ASSERT_TRUE(outcome.end);
    EXPECT_EQ(outcome.end->how, ExchangeEnd::How::relayed);
    EXPECT_EQ(outcome.end->status, 200u);
    EXPECT_TRUE(outcome.end->keep_device);
    ASSERT_EQ(exchange_.requests().size(), 1u);
    const auto& received = exchange_.requests()[0];
    EXPECT_EQ(received[http::field::authorization], "Negotiate " + tokens_->token());
    EXPECT_EQ(received[http::field::host], "127.0.0.1:" + std::to_string(exchange_.port()));
    EXPECT_EQ(received[http::field::content_length], "11");
    EXPECT_EQ(received.body(), "sync-body-1");
    EXPECT_EQ(tokens_->calls(), 1);
    EXPECT_EQ(tokens_->accepted_answers(), 1);
    EXPECT_TRUE(outcome.device_got.starts_with("HTTP/1.1 200 ")) << outcome.device_got;
    EXPECT_TRUE(outcome.device_got.ends_with("\r\n\r\nsync-answer")) << outcome.device_got;
}

TEST_F(UpstreamExchangeTest, ExchangeThatClosesWithoutAnsweringIsNotSentTheRequestAgain) {
    exchange_.script({ExchangeStep::close(), ExchangeStep::answer(http_response(200, "replayed"))});
    const auto outcome = forward(sync_post, {tokens_});

    ASSERT_TRUE(outcome.end);
    EXPECT_EQ(outcome.end->how, ExchangeEnd::How::failed);
    ASSERT_TRUE(outcome.end->failure);
    EXPECT_EQ(outcome.end->failure->status, 503u);
    EXPECT_NE(outcome.end->failure->reason.find("not replayed"), std::string::npos) << *outcome.end->failure;
    EXPECT_EQ(exchange_.requests().size(), 1u);
    EXPECT_EQ(exchange_.connections(), 1u);
    EXPECT_EQ(outcome.device_got, "");  // the session answers the device, not the exchange
}

TEST_F(UpstreamExchangeTest, OnChallengeSendsTheTokenOnlyAfterExchangeAsks) {
    exchange_.script({ExchangeStep::answer(http_response(401, "", "WWW-Authenticate: Negotiate\r\n")),
                      ExchangeStep::answer(http_response(200, "sync-answer"))});
    const auto outcome = forward(sync_post, {tokens_, config::SendAuthorization::on_challenge});

    ASSERT_TRUE(outcome.end);
    EXPECT_EQ(outcome.end->how, ExchangeEnd::How::relayed);
    EXPECT_EQ(outcome.end->status, 200u);
    ASSERT_EQ(exchange_.requests().size(), 2u);
    EXPECT_EQ(exchange_.requests()[0].count(http::field::authorization), 0u);
    EXPECT_EQ(exchange_.requests()[1][http::field::authorization], "Negotiate " + tokens_->token());
    EXPECT_EQ(exchange_.requests()[1].body(), "sync-body-1");  // the buffered body, sent again whole
    EXPECT_EQ(tokens_->calls(), 1);
    EXPECT_TRUE(outcome.device_got.starts_with("HTTP/1.1 200 ")) << outcome.device_got;
    EXPECT_EQ(outcome.device_got.find("401"), std::string::npos) << outcome.device_got;
}

// IIS lists Negotiate and NTLM in fields of their own; a proxy between may fold them into one.
TEST_F(UpstreamExchangeTest, OnChallengeReadsAFoldedChallengeList) {
    exchange_.script({ExchangeStep::answer(http_response(401, "", "WWW-Authenticate: NTLM, Negotiate\r\n")),
                      ExchangeStep::answer(http_response(200, "sync-answer"))});
    const auto outcome = forward(sync_post, {tokens_, config::SendAuthorization::on_challenge});

    ASSERT_TRUE(outcome.end);
    EXPECT_EQ(outcome.end->status, 200u);
    ASSERT_EQ(exchange_.requests().size(), 2u);
    EXPECT_EQ(exchange_.requests()[1][http::field::authorization], "Negotiate " + tokens_->token());
}

// A scheme that merely starts with "Negotiate" asks for no Negotiate token: the 401 goes to the device.
TEST_F(UpstreamExchangeTest, OnChallengeRelaysA401ThatOffersNoNegotiate) {
    exchange_.script({ExchangeStep::answer(http_response(401, "", "WWW-Authenticate: NegotiateExt\r\n"))});
    const auto outcome = forward(sync_post, {tokens_, config::SendAuthorization::on_challenge});

    ASSERT_TRUE(outcome.end);
    EXPECT_EQ(outcome.end->status, 401u);
    EXPECT_EQ(exchange_.requests().size(), 1u);
    EXPECT_EQ(tokens_->calls(), 0);
}

TEST_F(UpstreamExchangeTest, FailureOfTheTokenSourceEndsTheExchangeBeforeExchangeGetsAnything) {
    exchange_.script({ExchangeStep::answer(http_response(200, "sync-answer"))});
    const common::Failure kdc_down = common::Failure::unavailable("KDC unreachable");
    const auto outcome = forward(sync_post, {std::make_shared<FakeTokenSource>(kdc_down)});

    ASSERT_TRUE(outcome.end);
    EXPECT_EQ(outcome.end->how, ExchangeEnd::How::failed);
    ASSERT_TRUE(outcome.end->failure);
    EXPECT_EQ(*outcome.end->failure, kdc_down);
    EXPECT_TRUE(outcome.end->keep_device);
    EXPECT_TRUE(exchange_.requests().empty());

    // The connection opened for the try went back to alice's pool, not left with the device
    // connection: its next request, another user's (the certificate remapped meanwhile), must not go
    // out on a connection Exchange may have authenticated as alice (authenticate: per_connection).
    ASSERT_EQ(exchange_.connections(), 1u);
    const auto next = forward(sync_post, {.credentials = tokens_, .user = "bob@example.test"});
    ASSERT_TRUE(next.end);
    EXPECT_EQ(next.end->status, 200u);
    EXPECT_EQ(exchange_.connections(), 2u);
}

// IIS answers some requests before it authenticates them (request filtering's 404.x, HTTP.sys's
// 400): under per_connection such an answer leaves the connection unauthenticated, and the next
// request on it carries the token again (without, IIS answers 401, and a held Ping can't be sent
// again). Once Exchange served a request with it, the connection's requests go without.
TEST_F(UpstreamExchangeTest, PerConnectionCountsOnlyAnAnswerExchangeServedAsAuthenticated) {
    exchange_.script({ExchangeStep::answer(http_response(404, "filtered")),
                      ExchangeStep::answer(http_response(200, "first-served")),
                      ExchangeStep::answer(http_response(200, "on-the-authenticated-connection"))});
    const Options options{.credentials = tokens_,
                          .authenticate = config::UpstreamAuthentication::per_connection};
    run_bounded(context_, [&]() -> asio::awaitable<void> {  // one thread: one idle pool
        for (const unsigned status : {404u, 200u, 200u}) {
            const auto outcome = co_await forward_in(sync_post, options);
            EXPECT_TRUE(outcome.end && outcome.end->status == status) << outcome.device_got;
        }
    });
    ASSERT_EQ(exchange_.requests().size(), 3u);
    EXPECT_EQ(exchange_.connections(), 1u);
    EXPECT_EQ(exchange_.requests()[0][http::field::authorization], "Negotiate " + tokens_->token());
    EXPECT_EQ(exchange_.requests()[1][http::field::authorization], "Negotiate " + tokens_->token());
    EXPECT_EQ(exchange_.requests()[2].count(http::field::authorization), 0u);
}

// A request that can't go again (a held long poll) carries the token on an authenticated connection
// too: should Exchange (or a load balancer in front of it) have forgotten the connection's
// authentication, its bare 401 would reach the phone, which asks for a password.
TEST_F(UpstreamExchangeTest, PerConnectionStillSendsTheTokenWithALongPoll) {
    exchange_.script({ExchangeStep::answer(http_response(200, "served")),
                      ExchangeStep::answer(http_response(200, "ping-answer"))});
    Options options{.credentials = tokens_, .authenticate = config::UpstreamAuthentication::per_connection};
    run_bounded(context_, [&]() -> asio::awaitable<void> {  // one thread: one idle pool
        EXPECT_EQ((co_await forward_in(sync_post, options)).end->status, 200u);
        options.long_poll = true;
        const auto held = co_await forward_in(sync_post, options);
        EXPECT_TRUE(held.end && held.end->status == 200u) << held.device_got;
    });
    ASSERT_EQ(exchange_.requests().size(), 2u);
    EXPECT_EQ(exchange_.connections(), 1u);
    EXPECT_EQ(exchange_.requests()[1][http::field::authorization], "Negotiate " + tokens_->token());
}

// Exchange refusing the token (its key changed since the ticket was cached): the ticket is renewed
// once and the buffered request sent again with the new token; the device never sees the 401.
TEST_F(UpstreamExchangeTest, ARefusedTicketIsRenewedAndTheRequestSentAgainWithTheNewOne) {
    exchange_.script({ExchangeStep::answer(http_response(401, "", "WWW-Authenticate: Negotiate\r\n")),
                      ExchangeStep::answer(http_response(200, "sync-answer"))});
    const std::string old_token = tokens_->token();
    tokens_->renews_to("bmV3LXRpY2tldA==");
    const auto outcome = forward(sync_post, {tokens_});

    ASSERT_TRUE(outcome.end);
    EXPECT_EQ(outcome.end->how, ExchangeEnd::How::relayed);
    EXPECT_EQ(outcome.end->status, 200u);
    EXPECT_EQ(tokens_->renewals(), 1);
    ASSERT_EQ(exchange_.requests().size(), 2u);
    EXPECT_EQ(exchange_.requests()[0][http::field::authorization], "Negotiate " + old_token);
    EXPECT_EQ(exchange_.requests()[1][http::field::authorization], "Negotiate bmV3LXRpY2tldA==");
    EXPECT_EQ(exchange_.requests()[1].body(), "sync-body-1");
    EXPECT_EQ(exchange_.connections(), 2u);     // the refused connection is not reused
    EXPECT_EQ(tokens_->accepted_answers(), 1);  // the second token only
    EXPECT_TRUE(outcome.device_got.starts_with("HTTP/1.1 200 ")) << outcome.device_got;
}

// IIS dates every answer: a refusal from a server whose clock is 10 minutes ahead is put down to
// the clocks in the log.
TEST_F(UpstreamExchangeTest, ARefusalFromAServerWhoseClockIsOffNamesTheClocks) {
    const auto refused = http_response(
        401, "", "WWW-Authenticate: Negotiate\r\nDate: " + http_date(std::chrono::seconds(630)) + "\r\n");
    exchange_.script({ExchangeStep::answer(refused)});
    CapturedLog log;
    const auto outcome = forward(sync_post, {tokens_});

    ASSERT_TRUE(outcome.end);
    EXPECT_EQ(outcome.end->status, 401u);
    EXPECT_NE(log.out.str().find("the token was refused: Exchange's clock is 10 min "), std::string::npos)
        << log.out.str();
}

// Exchange refusing every ticket refuses every request: its explanation is logged once per 10 s
// (the access log has each 401), with the count of those held back on the next.
TEST_F(UpstreamExchangeTest, ARefusalRepeatedForEveryRequestIsExplainedOnce) {
    const auto refused = http_response(401, "", "WWW-Authenticate: Negotiate\r\n");
    exchange_.script(
        {ExchangeStep::answer(refused), ExchangeStep::answer(refused), ExchangeStep::answer(refused)});
    CapturedLog log;
    for (int i = 0; i < 3; ++i) EXPECT_EQ(forward(sync_post, {tokens_}).end->status, 401u) << i;
    const auto text = log.out.str();
    std::size_t explained = 0;
    for (auto at = text.find("answered 401"); at != std::string::npos; at = text.find("answered 401", at + 1))
        ++explained;
    EXPECT_EQ(explained, 1u) << text;
}

// The new ticket refused too: Exchange is misconfigured, not out of date. One renewal per request.
TEST_F(UpstreamExchangeTest, ATicketRefusedAgainAfterItsRenewalIsRelayed) {
    exchange_.script({ExchangeStep::answer(http_response(401, "", "WWW-Authenticate: Negotiate\r\n")),
                      ExchangeStep::answer(http_response(401, "", "WWW-Authenticate: Negotiate\r\n")),
                      ExchangeStep::answer(http_response(200, "third-try"))});
    tokens_->renews_to("bmV3LXRpY2tldA==");
    const auto outcome = forward(sync_post, {tokens_});

    ASSERT_TRUE(outcome.end);
    EXPECT_EQ(outcome.end->how, ExchangeEnd::How::relayed);
    EXPECT_EQ(outcome.end->status, 401u);
    EXPECT_EQ(tokens_->renewals(), 1);
    EXPECT_EQ(exchange_.requests().size(), 2u);
    EXPECT_EQ(tokens_->accepted_answers(), 0);
    EXPECT_TRUE(outcome.device_got.starts_with("HTTP/1.1 401 ")) << outcome.device_got;
}

// The token source says a new ticket would not help (it was itself renewed moments ago).
TEST_F(UpstreamExchangeTest, ARefusalThatRenewingWouldNotHelpIsRelayed) {
    exchange_.script({ExchangeStep::answer(http_response(401, "", "WWW-Authenticate: Negotiate\r\n")),
                      ExchangeStep::answer(http_response(200, "second-try"))});
    const auto outcome = forward(sync_post, {tokens_});

    ASSERT_TRUE(outcome.end);
    EXPECT_EQ(outcome.end->status, 401u);
    EXPECT_EQ(tokens_->renewals(), 1);
    EXPECT_EQ(exchange_.requests().size(), 1u);
    EXPECT_TRUE(outcome.device_got.starts_with("HTTP/1.1 401 ")) << outcome.device_got;
}

// A held long poll keeps nothing of its request to send again: the ticket is renewed for the
// device's next request, and the device is asked to come back rather than told its credentials failed.
TEST_F(UpstreamExchangeTest, ALongPollWhoseTicketIsRefusedIsAnswered503AfterTheRenewal) {
    exchange_.script({ExchangeStep::answer(http_response(401, "", "WWW-Authenticate: Negotiate\r\n"))});
    tokens_->renews_to("bmV3LXRpY2tldA==");
    const auto outcome = forward(sync_post, {tokens_, {}, std::chrono::seconds(30), true});

    ASSERT_TRUE(outcome.end);
    EXPECT_EQ(outcome.end->how, ExchangeEnd::How::failed);
    EXPECT_EQ(outcome.end->status, 503u);
    ASSERT_TRUE(outcome.end->failure);
    EXPECT_EQ(outcome.end->failure->cause, "ticket_renewed");
    EXPECT_GT(outcome.end->failure->retry_after_seconds, 0u);
    EXPECT_EQ(tokens_->renewals(), 1);
    EXPECT_EQ(exchange_.requests().size(), 1u);
}

// The KDC can't renew it: the device gets the KDC's failure, not Exchange's 401.
TEST_F(UpstreamExchangeTest, ARenewalTheKdcFailsEndsWithTheKdcsFailure) {
    exchange_.script({ExchangeStep::answer(http_response(401, "", "WWW-Authenticate: Negotiate\r\n"))});
    const common::Failure kdc_down = common::Failure::unavailable("KDC unreachable");
    tokens_->renewal_fails(kdc_down);
    const auto outcome = forward(sync_post, {tokens_});

    ASSERT_TRUE(outcome.end);
    EXPECT_EQ(outcome.end->how, ExchangeEnd::How::failed);
    ASSERT_TRUE(outcome.end->failure);
    EXPECT_EQ(*outcome.end->failure, kdc_down);
    EXPECT_EQ(exchange_.requests().size(), 1u);
}

TEST_F(UpstreamExchangeTest, ExchangeSilentPastTheDeadlineIsAGatewayTimeout) {
    exchange_.script({ExchangeStep::hold()});
    const auto outcome = forward(sync_post, {tokens_, {}, std::chrono::milliseconds(300)});

    ASSERT_TRUE(outcome.end);
    EXPECT_EQ(outcome.end->how, ExchangeEnd::How::failed);
    EXPECT_EQ(outcome.end->status, 504u);
    EXPECT_EQ(exchange_.requests().size(), 1u);
}

TEST_F(UpstreamExchangeTest, DeviceLeavingAHeldLongPollClosesExchangesConnection) {
    const auto outcome = held_long_poll(/*device_leaves=*/true);

    ASSERT_TRUE(outcome.end);
    EXPECT_EQ(outcome.end->how, ExchangeEnd::How::device_left);
    EXPECT_EQ(watch_.watched, 1);
    EXPECT_EQ(exchange_.requests().size(), 1u);
    EXPECT_EQ(outcome.device_got, "");
    run_bounded(context_, [&]() -> asio::awaitable<void> {
        EXPECT_TRUE(co_await eventually([&] { return exchange_.held_closed() == 1; }));
    });
}

TEST_F(UpstreamExchangeTest, DrainDuringAHeldLongPollCutsItShort) {
    const auto outcome = held_long_poll(/*device_leaves=*/false);

    ASSERT_TRUE(outcome.end);
    EXPECT_EQ(outcome.end->how, ExchangeEnd::How::drained);
    EXPECT_EQ(exchange_.requests().size(), 1u);
}

}  // namespace
}  // namespace easgate::testing
