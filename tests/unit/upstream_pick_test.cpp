#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <set>
#include <thread>

#include "easgate/upstream/upstream.hpp"

namespace easgate::upstream {
namespace {

Upstream servers(std::initializer_list<const char*> urls, std::chrono::milliseconds rest) {
    config::UpstreamConfig config;
    config.name = "exchange";
    for (const char* url : urls) config.servers.push_back(*config::parse_upstream_url(url));
    return Upstream(config, "upstreams[0]", rest);
}

Upstream three_servers(std::chrono::milliseconds rest = Upstream::server_rest) {
    return servers({"https://mail1", "https://mail2", "https://mail3"}, rest);
}

std::size_t pick(Upstream& upstream, const std::string& user = {}) {
    const std::vector<bool> none_tried(upstream.server_count());
    return upstream.pick_server(none_tried, user)->server;
}

TEST(UpstreamPick, IdleServersAreTakenInTurn) {
    auto upstream = three_servers();
    std::set<std::size_t> picked;
    for (int i = 0; i < 3; ++i) picked.insert(pick(upstream));
    EXPECT_EQ(picked.size(), 3u);
}

TEST(UpstreamPick, TheServerWithTheFewestRequestsInFlightIsPreferred) {
    auto upstream = three_servers();
    const InFlight busy_first(upstream, 0);
    const InFlight busy_second(upstream, 1);
    const InFlight busier_second(upstream, 1);
    for (int i = 0; i < 3; ++i) EXPECT_EQ(pick(upstream), 2u) << i;
    {
        const InFlight now_third_too(upstream, 2);  // 1, 2, 1 in flight: the first and third tie
        std::set<std::size_t> picked;
        for (int i = 0; i < 4; ++i) picked.insert(pick(upstream));
        EXPECT_EQ(picked, (std::set<std::size_t>{0, 2}));
    }
}

TEST(UpstreamPick, AUserRoutedByA451GoesToTheirServerUnlessItWasTried) {
    auto upstream = three_servers();
    const auto mail2 = upstream.find_server(*config::parse_upstream_url("https://MAIL2"));
    ASSERT_EQ(mail2, 1u);
    EXPECT_FALSE(upstream.find_server(*config::parse_upstream_url("https://mail4")));
    upstream.route_user_to("alice@example.test", 1);
    for (int i = 0; i < 3; ++i) EXPECT_EQ(pick(upstream, "alice@example.test"), 1u);
    std::vector<bool> tried{false, true, false};
    EXPECT_NE(upstream.pick_server(tried, "alice@example.test")->server, 1u) << "failover still works";
    std::set<std::size_t> others;
    for (int i = 0; i < 3; ++i) others.insert(pick(upstream, "bob@example.test"));
    EXPECT_EQ(others.size(), 3u);

    // A 451 naming a server that is down (or an answer forged to say so) pins no one to it: while
    // it rests after failures, alice goes where anyone would, and back once it is well.
    for (int i = 0; i < 5; ++i) upstream.record_failure(1, "connection refused");  // enough to rest
    for (int i = 0; i < 3; ++i) EXPECT_NE(pick(upstream, "alice@example.test"), 1u) << i;
    upstream.record_health_check(1, false, "503");
    upstream.record_success(1);
    EXPECT_NE(pick(upstream, "alice@example.test"), 1u);
    upstream.record_health_check(1, true, "200");
    EXPECT_EQ(pick(upstream, "alice@example.test"), 1u);
}

// Picked by fewest requests in flight, a server back from its rest would take every new connection
// (the others hold Pings): one request at a time tries it, until one gets through.
TEST(UpstreamPick, AServerBackFromItsRestIsTriedByOneRequestAtATime) {
    auto upstream = three_servers(std::chrono::milliseconds(100));
    std::vector<std::unique_ptr<InFlight>> held_pings;
    for (int i = 0; i < 50; ++i) {
        held_pings.push_back(std::make_unique<InFlight>(upstream, 1));
        held_pings.push_back(std::make_unique<InFlight>(upstream, 2));
    }
    for (int i = 0; i < 3; ++i) upstream.record_failure(0, "TLS handshake timed out");
    for (int i = 0; i < 3; ++i) EXPECT_NE(pick(upstream), 0u) << "resting";
    EXPECT_FALSE(upstream.serving(0));
    EXPECT_FALSE(upstream.may_reuse(0)) << "its idle connections wait while the others serve";

    std::this_thread::sleep_for(std::chrono::milliseconds(150));
    EXPECT_EQ(pick(upstream), 0u) << "one request tries it";
    for (int i = 0; i < 4; ++i) EXPECT_NE(pick(upstream), 0u) << "the others go on elsewhere " << i;
    upstream.record_failure(0, "TLS handshake timed out");  // still down: another rest
    std::this_thread::sleep_for(std::chrono::milliseconds(150));
    EXPECT_EQ(pick(upstream), 0u);
    EXPECT_NE(pick(upstream), 0u);
    upstream.record_success(0);
    for (int i = 0; i < 3; ++i) EXPECT_EQ(pick(upstream), 0u) << "back, and the least busy";
}

// A Ping held since before the failures, answered late on its old connection, says nothing of the
// new connections that fail: the rest holds. A request sent after them that is served ends it.
TEST(UpstreamPick, AnAnswerToARequestSentBeforeTheFailuresEndsNoRest) {
    auto upstream = three_servers();
    const auto held_since = std::chrono::steady_clock::now() - std::chrono::milliseconds(5);
    for (const char* user : {"alice@example.test", "bob@example.test", "carol@example.test"})
        upstream.record_failure(0, "connection refused", user);
    ASSERT_FALSE(upstream.serving(0));
    upstream.record_success(0, held_since);
    EXPECT_FALSE(upstream.serving(0));
    upstream.record_success(0);
    EXPECT_TRUE(upstream.serving(0));
}

// /readyz: a single Exchange server resting after failures is not ready, and once its rest is over
// it is, also while the one request trying it holds it (a load balancer would take every node out
// for the length of that try, which may be the whole connect timeout).
TEST(UpstreamPick, ALoneServerIsReadyWhileOneRequestTriesItAfterItsRest) {
    auto upstream = servers({"https://mbx1.corp.example.com"}, std::chrono::milliseconds(100));
    for (int i = 0; i < 3; ++i) upstream.record_failure(0, "connection refused");
    EXPECT_FALSE(upstream.any_server_ready()) << "resting";
    std::this_thread::sleep_for(std::chrono::milliseconds(150));
    ASSERT_TRUE(upstream.any_server_ready());
    std::vector<bool> tried(1);
    const auto trying = upstream.pick_server(tried);
    ASSERT_TRUE(trying);
    EXPECT_FALSE(trying->resting) << "its rest is over: the one request that tries it";
    EXPECT_FALSE(upstream.any_server_usable()) << "held by that request";
    EXPECT_TRUE(upstream.any_server_ready()) << "and ready all the while";
    upstream.record_failure(0, "connection refused");
    EXPECT_FALSE(upstream.any_server_ready()) << "still down: another rest";
}

// Every server resting: a request tries one of them (better than refusing the device), not each in
// turn, each costing its connect timeout.
TEST(UpstreamPick, WhenEveryServerRestsARequestTriesOne) {
    auto upstream = three_servers();
    for (std::size_t server = 0; server < 3; ++server)
        for (int i = 0; i < 3; ++i) upstream.record_failure(server, "connection refused");
    EXPECT_TRUE(upstream.may_reuse(1)) << "with none serving, a kept connection that works is used";
    std::vector<bool> tried(3);
    const auto first = upstream.pick_server(tried);
    ASSERT_TRUE(first);
    EXPECT_TRUE(first->resting);
    tried[first->server] = true;
    EXPECT_FALSE(upstream.pick_server(tried, {}, true)) << "one resting server was tried already";
    EXPECT_TRUE(upstream.pick_server(tried, {}, false)) << "without the tried one, another";
}

}  // namespace
}  // namespace easgate::upstream
