// limits.max_connections_per_user's count: per user, given back as connections close, and kept
// while the limit is off, so that a reload turning it on finds the connections already open.
// limits.max_opening_per_address's: per source, an IPv4 address or an IPv6 /64. At
// limits.max_connections, which connection makes room for a new one.
#include "easgate/listener/session_registry.hpp"

#include <gtest/gtest.h>

#include "easgate/common/ip_network.hpp"

namespace easgate::listener {
namespace {

struct CountedSession : DrainableSession {
    void drain() override { ++drains; }
    void reclaim() override { ++reclaims; }
    int drains = 0;
    int reclaims = 0;
};

using namespace std::chrono_literals;
const auto registry_epoch = std::chrono::steady_clock::time_point{} + 1h;

class SessionRegistryReclaim : public ::testing::Test {
protected:
    SessionRegistry sessions;
    std::shared_ptr<CountedSession> a = std::make_shared<CountedSession>();
    std::shared_ptr<CountedSession> b = std::make_shared<CountedSession>();
    std::shared_ptr<CountedSession> c = std::make_shared<CountedSession>();
};

TEST_F(SessionRegistryReclaim, TheConnectionIdleLongestIsPickedOnceIdleForReclaimAfter) {
    const auto entry_a = sessions.add(a, registry_epoch);
    const auto entry_b = sessions.add(b, registry_epoch + 100ms);
    sessions.add(c, registry_epoch + 200ms);
    EXPECT_TRUE(sessions.mark_busy(entry_a)) << "a's request header is in";
    EXPECT_EQ(sessions.reclaim_oldest(registry_epoch + 500ms).session, nullptr) << "none idle for 1s";

    const auto first = sessions.reclaim_oldest(registry_epoch + 1150ms);
    EXPECT_EQ(first.session, b) << "a is busy, however old";
    EXPECT_EQ(first.idle_for, 1050ms);
    EXPECT_FALSE(sessions.mark_busy(entry_b)) << "a header that comes after the pick is not served";
    EXPECT_EQ(sessions.reclaim_oldest(registry_epoch + 1150ms).session, nullptr) << "c: 950 ms";
    EXPECT_EQ(sessions.reclaim_oldest(registry_epoch + 1300ms).session, c);
    EXPECT_EQ(sessions.reclaim_oldest(registry_epoch + 5000ms).session, nullptr) << "each is picked once";
    EXPECT_EQ(sessions.reclaimed(), 2u);
    EXPECT_EQ(sessions.size(), 3u) << "open until they close";
    EXPECT_EQ(a->reclaims + b->reclaims + c->reclaims, 0) << "reclaim() is the caller's to call";
}

TEST_F(SessionRegistryReclaim, AConnectionOpeningGoesBeforeOneKeptAliveLonger) {
    const auto entry_a = sessions.add(a, registry_epoch);
    const auto entry_b = sessions.add(b, registry_epoch + 10ms);
    ASSERT_TRUE(sessions.mark_busy(entry_a));
    sessions.mark_idle(entry_a, registry_epoch + 20ms);  // kept alive from its answer on
    ASSERT_TRUE(sessions.mark_busy(entry_b));
    sessions.mark_idle(entry_b, registry_epoch + 30ms);
    sessions.add(c, registry_epoch + 500ms);
    EXPECT_EQ(sessions.reclaim_oldest(registry_epoch + 1200ms).session, a) << "c: opening for 700 ms only";
    const auto opening = sessions.reclaim_oldest(registry_epoch + 1600ms);
    EXPECT_EQ(opening.session, c) << "b has been idle longer, but has got in";
    EXPECT_EQ(opening.idle_for, 1100ms);
    const auto kept = sessions.reclaim_oldest(registry_epoch + 2000ms);
    EXPECT_EQ(kept.session, b);
    EXPECT_EQ(kept.idle_for, 1970ms);
    sessions.mark_idle(entry_a, registry_epoch + 3000ms);
    EXPECT_FALSE(sessions.mark_busy(entry_a)) << "once picked, waiting again does not undo it";
}

TEST_F(SessionRegistryReclaim, AClosingConnectionIsPassedOverAndEveryListIsDrainedAndRemoved) {
    const auto entry_a = sessions.add(a, registry_epoch);
    const auto entry_b = sessions.add(b, registry_epoch + 1ms);
    const auto entry_c = sessions.add(c, registry_epoch + 2ms);
    ASSERT_TRUE(sessions.mark_busy(entry_c));
    a.reset();  // in its destructor, before its remove()
    EXPECT_EQ(sessions.reclaim_oldest(registry_epoch + 5000ms).session, b) << "a is passed over, c busy";

    sessions.drain_all();
    EXPECT_EQ(b->drains, 1);
    EXPECT_EQ(c->drains, 1) << "busy ones too";
    for (const auto entry : {entry_a, entry_b, entry_c}) sessions.remove(entry);
    EXPECT_EQ(sessions.size(), 0u);
    EXPECT_EQ(sessions.reclaim_oldest(registry_epoch + 9000ms).session, nullptr);
}

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
