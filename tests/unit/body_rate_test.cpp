#include "easgate/common/body_rate.hpp"

#include <gtest/gtest.h>

namespace easgate::common {
namespace {

using std::chrono::milliseconds;
using clock = BodyRateGuard::clock;

TEST(BodyRateGuard, WithoutARateEachReadGetsTheReadTimeout) {
    const auto start = clock::now();
    const BodyRateGuard guard(0, milliseconds(60'000), start);
    EXPECT_EQ(guard.read_deadline(start + milliseconds(500'000)), start + milliseconds(560'000));
    EXPECT_FALSE(guard.too_slow(start + milliseconds(10'000'000)));
}

TEST(BodyRateGuard, TheRateAllowsTheGraceThenOneSecondPerRateOfBytes) {
    const auto start = clock::now();
    BodyRateGuard guard(1000, milliseconds(60'000), start);  // grace: 10 s
    EXPECT_EQ(guard.read_deadline(start), start + milliseconds(10'000));
    guard.received(5000, start);  // five more seconds of credit
    EXPECT_EQ(guard.read_deadline(start + milliseconds(1000)), start + milliseconds(15'000));
    EXPECT_FALSE(guard.too_slow(start + milliseconds(14'999)));
    EXPECT_TRUE(guard.too_slow(start + milliseconds(15'000)));
}

TEST(BodyRateGuard, AFastBodyIsStillBoundByTheReadTimeout) {
    const auto start = clock::now();
    BodyRateGuard guard(1000, milliseconds(2000), start);  // grace shrinks to the read timeout
    guard.received(1'000'000, start);
    EXPECT_EQ(guard.read_deadline(start + milliseconds(100)), start + milliseconds(2100));
    EXPECT_FALSE(guard.too_slow(start + milliseconds(2100))) << "a read timeout, not the rate";
}

// 10 MiB at once, then a byte every 55 s: each read within read_timeout, and the average over the
// whole body far above the rate for hours. The burst's credit ends read_timeout (plus the grace)
// after it came, so the trickle is refused as too slow, and the read-ahead's memory goes.
TEST(BodyRateGuard, ABurstBuysNoHoursOfTrickling) {
    const auto start = clock::now();
    BodyRateGuard guard(256, milliseconds(60'000), start);
    guard.received(10 * 1024 * 1024, start);
    guard.received(1, start + milliseconds(55'000));
    EXPECT_LE(guard.read_deadline(start + milliseconds(55'000)), start + milliseconds(70'004));
    EXPECT_TRUE(guard.too_slow(start + milliseconds(70'004)));
}

// Streaming on after Exchange took its time (a write that waited, the connect): the wait is not
// the device's, whose body gets the grace again.
TEST(BodyRateGuard, AfterEasgatesOwnWaitTheBodyGetsTheGraceAgain) {
    const auto start = clock::now();
    BodyRateGuard guard(256, milliseconds(60'000), start);
    guard.received(1024 * 1024, start);
    EXPECT_TRUE(guard.too_slow(start + milliseconds(90'000)));
    guard.resume(start + milliseconds(90'000));
    EXPECT_FALSE(guard.too_slow(start + milliseconds(99'999)));
    EXPECT_TRUE(guard.too_slow(start + milliseconds(100'000)));
}

}  // namespace
}  // namespace easgate::common
