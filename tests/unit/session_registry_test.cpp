// limits.max_connections_per_user's count: per user, given back as connections close, and kept
// while the limit is off, so that a reload turning it on finds the connections already open.
// limits.max_opening_per_address's: per source, an IPv4 address or an IPv6 /64.
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

TEST(SessionRegistryOpeningSlots, EachSourceHoldsUpToTheLimitWhileTheGaugeShowsThemAll) {
    SessionRegistry sessions;
    EXPECT_TRUE(sessions.take_opening_slot("192.0.2.7", 2));
    EXPECT_TRUE(sessions.take_opening_slot("192.0.2.7", 2));
    EXPECT_FALSE(sessions.take_opening_slot("192.0.2.7", 2));
    EXPECT_TRUE(sessions.take_opening_slot("192.0.2.8", 2)) << "another source";
    EXPECT_EQ(sessions.opening(), 3u) << "a refused one holds no slot";
    EXPECT_EQ(sessions.over_address_limit(), 1u);
    EXPECT_EQ(sessions.over_user_limit(), 0u) << "counted apart from the users'";
    sessions.give_opening_slot("192.0.2.7");
    EXPECT_EQ(sessions.opening(), 2u);
    EXPECT_TRUE(sessions.take_opening_slot("192.0.2.7", 2));
    EXPECT_TRUE(sessions.take_user_slot("192.0.2.7", 1)) << "a user of that name is another count";
}

TEST(SessionRegistryOpeningSlots, GivingBackASlotNeverHeldChangesNothing) {
    SessionRegistry sessions;
    EXPECT_TRUE(sessions.take_opening_slot("192.0.2.7", 1));
    sessions.give_opening_slot("192.0.2.8");
    EXPECT_EQ(sessions.opening(), 1u);
    EXPECT_FALSE(sessions.take_opening_slot("192.0.2.7", 1));
}

boost::asio::ip::address address_of(const char* text) { return boost::asio::ip::make_address(text); }

TEST(SourceKey, IsTheIPv4AddressOrTheIPv6Slash64) {
    EXPECT_EQ(common::source_key(address_of("192.0.2.7")), "192.0.2.7");
    EXPECT_EQ(common::source_key(address_of("::ffff:192.0.2.7")), "192.0.2.7")
        << "a v4 device on a listener on ::";
    EXPECT_EQ(common::source_key(address_of("2001:db8:1:2:a:b:c:d")), "2001:db8:1:2::/64");
    EXPECT_EQ(common::source_key(address_of("2001:db8:1:2::ffff")),
              common::source_key(address_of("2001:db8:1:2::1")))
        << "one subscriber's /64 is one source";
    EXPECT_NE(common::source_key(address_of("2001:db8:1:3::1")),
              common::source_key(address_of("2001:db8:1:2::1")));
    EXPECT_EQ(common::source_key(address_of("::1")), "::/64");
    EXPECT_EQ(common::source_key(address_of("64:ff9b::c000:207")), "192.0.2.7")
        << "NAT64 names each IPv4 device";
}

}  // namespace
}  // namespace easgate::listener
