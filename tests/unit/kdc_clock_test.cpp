// The KDC's clock against easgate's, as the login and the doctor judge it.
#include <gtest/gtest.h>

#include "easgate/kerberos/keytab_login.hpp"

namespace easgate::kerberos {
namespace {

TEST(KdcClock, AMinuteAgreesFiveMinutesDriftBeyondThatExchangeRefuses) {
    EXPECT_EQ(kdc_clock_verdict(0), KdcClock::agrees);
    EXPECT_EQ(kdc_clock_verdict(-60), KdcClock::agrees);
    EXPECT_EQ(kdc_clock_verdict(61), KdcClock::drifting);
    EXPECT_EQ(kdc_clock_verdict(-300), KdcClock::drifting);
    EXPECT_EQ(kdc_clock_verdict(301), KdcClock::refused);
    EXPECT_EQ(kdc_clock_verdict(-600), KdcClock::refused);
}

TEST(KdcClock, TheDifferenceIsToldFromThisHostsSide) {
    EXPECT_EQ(clock_against_kdc(-600), "this host's clock is 600 s ahead of the KDC's");
    EXPECT_EQ(clock_against_kdc(75), "this host's clock is 75 s behind the KDC's");
    EXPECT_EQ(clock_against_kdc(0), "this host's clock agrees with the KDC's");
}

}  // namespace
}  // namespace easgate::kerberos
