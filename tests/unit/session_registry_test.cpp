// limits.max_connections_per_user's count: per user, given back as connections close, and kept
// while the limit is off, so that a reload turning it on finds the connections already open.
#include "easgate/listener/session_registry.hpp"

#include <gtest/gtest.h>

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

}  // namespace
}  // namespace easgate::listener
