// limits.max_connections_per_user's count: per user, given back as connections close, and kept
// while the limit is off, so that a reload turning it on finds the connections already open.
// limits.max_handshakes_per_address's: per source, an IPv4 address or an IPv6 /64.
#include "easgate/listener/session_registry.hpp"

#include <gtest/gtest.h>

#include "easgate/common/ip_network.hpp"

namespace easgate::listener {
namespace {

TEST(SessionRegistryUserSlots, EachUserHoldsUpToTheLimitAndGetsSlotsBack) {
    SessionRegistry sessions;
    EXPECT_TRUE(sessions.take_user_slot("s-1-5-21-1-2-3-1105", 2));
    EXPECT_TRUE(sessions.take_user_slot("s-1-5-21-1-2-3-1105", 2));
    EXPECT_FALSE(sessions.take_user_slot("s-1-5-21-1-2-3-1105", 2));
    EXPECT_TRUE(sessions.take_user_slot("s-1-5-21-1-2-3-1106", 2)) << "another user";
    EXPECT_EQ(sessions.over_user_limit(), 1u);
    sessions.give_user_slot("s-1-5-21-1-2-3-1105");
    EXPECT_TRUE(sessions.take_user_slot("s-1-5-21-1-2-3-1105", 2));
}

TEST(SessionRegistryUserSlots, WithTheLimitOffConnectionsAreCountedForALaterOne) {
    SessionRegistry sessions;
    for (int i = 0; i < 3; ++i) EXPECT_TRUE(sessions.take_user_slot("alice", 0));
    EXPECT_FALSE(sessions.take_user_slot("alice", 3)) << "a reload set the limit: the three open count";
    sessions.give_user_slot("alice");
    EXPECT_TRUE(sessions.take_user_slot("alice", 3));
    EXPECT_EQ(sessions.over_user_limit(), 1u);
}

TEST(SessionRegistryHandshakeSlots, EachSourceHoldsUpToTheLimitWhileTheGaugeShowsThemAll) {
    SessionRegistry sessions;
    EXPECT_TRUE(sessions.take_handshake_slot("192.0.2.7", 2));
    EXPECT_TRUE(sessions.take_handshake_slot("192.0.2.7", 2));
    EXPECT_FALSE(sessions.take_handshake_slot("192.0.2.7", 2));
    EXPECT_TRUE(sessions.take_handshake_slot("192.0.2.8", 2)) << "another source";
    EXPECT_EQ(sessions.handshaking(), 3u) << "a refused one holds no slot";
    EXPECT_EQ(sessions.over_address_limit(), 1u);
    EXPECT_EQ(sessions.over_user_limit(), 0u) << "counted apart from the users'";
    sessions.give_handshake_slot("192.0.2.7");
    EXPECT_EQ(sessions.handshaking(), 2u);
    EXPECT_TRUE(sessions.take_handshake_slot("192.0.2.7", 2));
    EXPECT_TRUE(sessions.take_user_slot("192.0.2.7", 1)) << "a user of that name is another count";
}

TEST(SessionRegistryHandshakeSlots, GivingBackASlotNeverHeldChangesNothing) {
    SessionRegistry sessions;
    EXPECT_TRUE(sessions.take_handshake_slot("192.0.2.7", 1));
    sessions.give_handshake_slot("192.0.2.8");
    EXPECT_EQ(sessions.handshaking(), 1u);
    EXPECT_FALSE(sessions.take_handshake_slot("192.0.2.7", 1));
}

boost::asio::ip::address ip(const char* text) { return boost::asio::ip::make_address(text); }

TEST(SourceKey, IsTheIPv4AddressOrTheIPv6Slash64) {
    EXPECT_EQ(common::source_key(ip("192.0.2.7")), "192.0.2.7");
    EXPECT_EQ(common::source_key(ip("::ffff:192.0.2.7")), "192.0.2.7") << "a v4 device on a listener on ::";
    EXPECT_EQ(common::source_key(ip("2001:db8:1:2:a:b:c:d")), "2001:db8:1:2::/64");
    EXPECT_EQ(common::source_key(ip("2001:db8:1:2::ffff")), common::source_key(ip("2001:db8:1:2::1")))
        << "one subscriber's /64 is one source";
    EXPECT_NE(common::source_key(ip("2001:db8:1:3::1")), common::source_key(ip("2001:db8:1:2::1")));
    EXPECT_EQ(common::source_key(ip("::1")), "::/64");
}

}  // namespace
}  // namespace easgate::listener
