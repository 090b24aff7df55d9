#include <gtest/gtest.h>

#include <set>

#include "easgate/upstream/upstream.hpp"

namespace easgate::upstream {
namespace {

Upstream three_servers() {
    config::UpstreamConfig config;
    config.name = "exchange";
    for (const char* url : {"https://mail1", "https://mail2", "https://mail3"})
        config.servers.push_back(*config::parse_upstream_url(url));
    return Upstream(config, "upstreams[0]");
}

std::size_t pick(Upstream& upstream, const std::string& user = {}) {
    const std::vector<bool> none_tried(upstream.server_count());
    return *upstream.pick_server(none_tried, user);
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
    EXPECT_NE(*upstream.pick_server(tried, "alice@example.test"), 1u) << "failover still works";
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

}  // namespace
}  // namespace easgate::upstream
