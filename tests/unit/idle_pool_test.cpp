// The idle pool's hold on the Upstream its connections belong to.
#include "easgate/upstream/idle_pool.hpp"

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>

namespace easgate::upstream {
namespace {

config::UpstreamConfig exchange_config() {
    config::UpstreamConfig config;
    config.name = "exchange";
    config.servers.push_back(*config::parse_upstream_url("https://mail1.example.test"));
    return config;
}

// A reload replaced the Upstream and its last session ended: the pooled connection still points
// into it, so the pool keeps it until the connection goes (and then lets it go).
TEST(IdleConnectionPool, AnIdleConnectionKeepsItsUpstreamUntilItGoes) {
    boost::asio::io_context io;
    IdleConnectionPool pool(4, std::chrono::minutes(1));
    auto upstream = std::make_shared<const Upstream>(exchange_config(), "upstreams[0]");
    const std::weak_ptr<const Upstream> watched = upstream;
    const Upstream* replaced = upstream.get();
    pool.give(std::move(upstream), "CN=alice,CN=Users,DC=example,DC=test",
              UpstreamConnection(io.get_executor()));
    EXPECT_FALSE(watched.expired());
    // Never opened, so not handed out; the entry goes, and with it the pool's hold.
    EXPECT_FALSE(pool.take(*replaced, "CN=alice,CN=Users,DC=example,DC=test"));
    EXPECT_TRUE(watched.expired());
}

}  // namespace
}  // namespace easgate::upstream
