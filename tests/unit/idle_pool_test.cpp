// The idle pool's hold on the Upstream its connections belong to.
#include "easgate/upstream/idle_pool.hpp"

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <thread>

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

// limits.max_idle_upstream_connections and upstream_idle_timeout apply after a reload: the workers'
// pools take the bounds configured last, and a lowered count lets the oldest go at the next give.
TEST(IdleConnectionPool, AReloadsBoundsApplyToTheWorkersPool) {
    boost::asio::io_context io;  // outlives the thread's pool and its sweep timer
    std::thread worker([&io] {   // a thread of its own: a pool of its own
        const auto pooled = [&io](std::size_t max_idle, const std::string& user) {
            auto upstream = std::make_shared<const Upstream>(exchange_config(), "upstreams[0]");
            const std::weak_ptr<const Upstream> watched = upstream;
            IdleConnectionPool::configure(max_idle, std::chrono::minutes(1));  // a reload sets them
            IdleConnectionPool::for_this_thread().give(std::move(upstream), user,
                                                       UpstreamConnection(io.get_executor()));
            return watched;  // expired once the pool let the connection go
        };
        const auto alice = pooled(4, "alice");
        const auto bob = pooled(4, "bob");
        const auto carol = pooled(1, "carol");  // reloaded with room for one
        EXPECT_TRUE(alice.expired());
        EXPECT_TRUE(bob.expired());
        EXPECT_FALSE(carol.expired());
        const auto dave = pooled(0, "dave");  // reloaded with pooling off
        EXPECT_TRUE(carol.expired());
        EXPECT_TRUE(dave.expired());
    });
    worker.join();
    IdleConnectionPool::configure(config::LimitsConfig{}.max_idle_upstream_connections,
                                  config::LimitsConfig{}.upstream_idle_timeout);  // for the tests after
}

}  // namespace
}  // namespace easgate::upstream
