// easgate raises its soft limit on open files to the hard one at start: a shell's or a container's
// soft 1024 runs out at a few hundred held Pings.
#include <gtest/gtest.h>
#include <sys/resource.h>

#include "easgate/common/resource_shortage.hpp"

namespace easgate::common {
namespace {

TEST(OpenFileLimit, TheSoftLimitIsRaisedToTheHardOne) {
    rlimit original{};
    ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &original), 0);
    if (original.rlim_max <= 512)
        GTEST_SKIP() << "a hard limit of " << original.rlim_max << " leaves no room";
    rlimit lowered = original;
    lowered.rlim_cur = 512;
    ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &lowered), 0);

    const auto raised = raise_open_file_limit();
    rlimit now{};
    ::getrlimit(RLIMIT_NOFILE, &now);
    ::setrlimit(RLIMIT_NOFILE, &original);
    ASSERT_TRUE(raised);
    EXPECT_EQ(raised->before, 512u);
    EXPECT_EQ(raised->now, original.rlim_max);
    EXPECT_EQ(raised->hard, original.rlim_max);
    EXPECT_EQ(now.rlim_cur, original.rlim_max);
}

}  // namespace
}  // namespace easgate::common
