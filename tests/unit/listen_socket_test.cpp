#include "easgate/common/listen_socket.hpp"

#include <gtest/gtest.h>

namespace easgate::common {
namespace {

TEST(ParseListenAddress, AcceptsIpv4AndBracketedIpv6WithAPort) {
    const auto v4 = parse_listen_address("127.0.0.1:9443");
    ASSERT_TRUE(v4);
    EXPECT_EQ(v4->address().to_string(), "127.0.0.1");
    EXPECT_EQ(v4->port(), 9443);
    const auto v6 = parse_listen_address("[::1]:0");
    ASSERT_TRUE(v6);
    EXPECT_TRUE(v6->address().is_v6());
    EXPECT_EQ(v6->port(), 0);
}

TEST(ParseListenAddress, RefusesNamesMissingPortsAndOutOfRangePorts) {
    for (const char* bad : {"localhost:9443", "127.0.0.1", "127.0.0.1:", "127.0.0.1:65536", "127.0.0.1:9x",
                            ":9443", "::1:9443"}) {
        EXPECT_FALSE(parse_listen_address(bad)) << bad;
    }
}

}  // namespace
}  // namespace easgate::common
