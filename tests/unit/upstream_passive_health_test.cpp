// Passive health: what Exchange answers says whether its server serves. A server that answers at
// once but fails (IIS's 503 for a stopped application pool, a 401 to every ticket) would otherwise
// take most new connections: servers are picked by fewest requests in flight, and it holds none.
#include "upstream_exchange_fixture.hpp"

namespace easgate::testing {
namespace {

const std::string token_refused = http_response(401, "", "WWW-Authenticate: Negotiate\r\n");
const std::string app_pool_stopped =
    http_response(503, "<h2>Service Unavailable</h2>", "Connection: close\r\n");

class PassiveHealthTest : public UpstreamExchangeTest {
protected:
    // Forwards one request per step of script, each on a device connection of its own, alice's and
    // bob's in turn (unless one_user); after each, the status the device got and whether Exchange's
    // server (the upstream's only one) still serves.
    std::vector<std::pair<unsigned, bool>> run(const std::vector<ExchangeStep>& script, Options options,
                                               bool one_user = false) {
        exchange_.script(script);
        std::vector<std::pair<unsigned, bool>> after;
        run_bounded(context_, [&]() -> asio::awaitable<void> {  // one thread: one idle pool
            for (std::size_t i = 0; i < script.size(); ++i) {
                options.user = i % 2 == 1 && !one_user ? "bob@example.test" : "alice@example.test";
                const auto outcome = co_await forward_in(sync_post, options);
                after.emplace_back(outcome.end ? outcome.end->status : 0u, upstream_->serving(0));
            }
        });
        return after;
    }

    static std::vector<ExchangeStep> answers(const std::vector<std::string>& raw) {
        std::vector<ExchangeStep> steps;
        for (const auto& response : raw) steps.push_back(ExchangeStep::answer(response));
        return steps;
    }

    using After = std::vector<std::pair<unsigned, bool>>;
};

// The FakeTokenSource's renew() says a new ticket would not help: each 401 goes on to the device.
TEST_F(PassiveHealthTest, ThreeRefusalsOfTheTokenInARowRestTheServer) {
    const auto after = run(answers({token_refused, token_refused, token_refused}), {tokens_});
    EXPECT_EQ(after, (After{{401, true}, {401, true}, {401, false}}));
}

// One user's trouble (an account IIS refuses, a mailbox) would meet every server in turn: it alone
// rests none.
TEST_F(PassiveHealthTest, OneUsersFailuresAloneRestNoServer) {
    const auto after =
        run(answers({token_refused, token_refused, token_refused, app_pool_stopped}), {tokens_}, true);
    EXPECT_EQ(after, (After{{401, true}, {401, true}, {401, true}, {503, true}}));
}

// Autodiscover runs in an IIS application pool of its own: its answers say nothing of ActiveSync's.
TEST_F(PassiveHealthTest, OnlyActiveSyncsAnswersCount) {
    const std::string autodiscover =
        "POST /autodiscover/autodiscover.xml HTTP/1.1\r\nHost: gateway.example.test\r\nContent-Length: "
        "11\r\n\r\nsync-body-1";
    exchange_.script(answers({app_pool_stopped, app_pool_stopped, app_pool_stopped}));
    run_bounded(context_, [&]() -> asio::awaitable<void> {
        for (const char* user : {"alice@example.test", "bob@example.test", "carol@example.test"}) {
            Options options{tokens_};
            options.user = user;
            EXPECT_EQ((co_await forward_in(autodiscover, options)).end->status, 503u);
        }
    });
    EXPECT_TRUE(upstream_->serving(0));
}

TEST_F(PassiveHealthTest, AGoodAnswerStartsTheCountOver) {
    const auto after = run(
        answers({token_refused, token_refused, http_response(200, "synced"), token_refused, token_refused}),
        {tokens_});
    EXPECT_EQ(after, (After{{401, true}, {401, true}, {200, true}, {401, true}, {401, true}}));
}

// Without easgate's token (the device's own credentials, optional mode) a 401 says nothing of the server.
TEST_F(PassiveHealthTest, A401ToTheDevicesOwnCredentialsIsNoFailure) {
    const auto after = run(answers({token_refused, token_refused, token_refused}), {nullptr});
    EXPECT_EQ(after, (After{{401, true}, {401, true}, {401, true}}));
}

// Throttling (Retry-After, X-MS-ASThrottle) is Exchange working as meant, and a 500 is mostly one
// mailbox's trouble: neither counts. A 502, 503 or 504 without them does.
TEST_F(PassiveHealthTest, Only502To504ThatDoNotThrottleCount) {
    const auto throttled = http_response(503, "", "Retry-After: 120\r\n");
    const auto throttled_device = http_response(503, "", "X-MS-ASThrottle: CommandFrequency\r\n");
    const auto after =
        run(answers({throttled, throttled, throttled, throttled_device, throttled_device, throttled_device,
                     http_response(500, ""), http_response(500, ""), http_response(500, ""),
                     http_response(502, ""), app_pool_stopped, http_response(504, "")}),
            {tokens_});
    ASSERT_EQ(after.size(), 12u);
    for (std::size_t i = 0; i + 1 < after.size(); ++i) EXPECT_TRUE(after[i].second) << "after answer " << i;
    EXPECT_EQ(after.back(), std::make_pair(504u, false));
}

// Exchange throttling the users (or a load balancer answering 503 + Retry-After while it is busy)
// says neither that the server fails nor that it serves: the count goes on.
TEST_F(PassiveHealthTest, AThrottlingAnswerDoesNotStartTheCountOver) {
    const auto throttled = http_response(503, "", "Retry-After: 120\r\n");
    const auto after =
        run(answers({token_refused, token_refused, throttled, token_refused, token_refused}), {tokens_});
    // The fourth is bob's again, right after his own: the fifth, alice's, is the third failure.
    EXPECT_EQ(after, (After{{401, true}, {401, true}, {503, true}, {401, true}, {401, false}}));
}

// No answer in time, or none that could be read, counts as a refused connection does.
TEST_F(PassiveHealthTest, NoAnswerInTimeCounts) {
    Options options{tokens_};
    options.deadline = std::chrono::milliseconds(300);
    const auto after = run({ExchangeStep::hold(), ExchangeStep::close(), ExchangeStep::hold()}, options);
    EXPECT_EQ(after, (After{{504, true}, {503, true}, {504, false}}));
}

// IIS recycling its application pool ends every Ping it holds without an answer: no failure of the server.
TEST_F(PassiveHealthTest, HeldLongPollsEndedWithoutAnAnswerAreNoFailure) {
    Options options{tokens_};
    options.long_poll = true;
    const auto after = run({ExchangeStep::close(), ExchangeStep::close(), ExchangeStep::close()}, options);
    EXPECT_EQ(after, (After{{503, true}, {503, true}, {503, true}}));
}

}  // namespace
}  // namespace easgate::testing
