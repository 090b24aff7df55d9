#include <gtest/gtest.h>

#include "easgate/admin/admin_server.hpp"
#include "easgate/admin/metrics.hpp"

namespace easgate::admin {
namespace {

TEST(RenderMetrics, WritesEachCounterWithHelpAndTypeInPrometheusTextFormat) {
    delegation::DelegationCounters delegation;
    delegation.s4u2self = 3;
    delegation.s4u2proxy = 4;
    directory::DirectoryCounters directory;
    directory.searches = 7;
    const auto text = render_metrics({&directory, &delegation, nullptr, {}});
    EXPECT_NE(text.find("# HELP easgate_kdc_s4u2self_total "), std::string::npos) << text;
    EXPECT_NE(text.find("# TYPE easgate_kdc_s4u2self_total counter\neasgate_kdc_s4u2self_total 3\n"),
              std::string::npos)
        << text;
    EXPECT_NE(text.find("\neasgate_kdc_s4u2proxy_total 4\n"), std::string::npos) << text;
    EXPECT_NE(text.find("\neasgate_ldap_searches_total 7\n"), std::string::npos) << text;
    EXPECT_NE(text.find("\neasgate_directory_cache_hits_total 0\n"), std::string::npos) << text;
}

TEST(RenderMetrics, LeavesOutStagesThatAreNotConfigured) {
    directory::DirectoryCounters directory;
    const auto text = render_metrics({&directory, nullptr, nullptr, {}});
    EXPECT_EQ(text.find("easgate_kdc_"), std::string::npos) << text;
    EXPECT_NE(text.find("easgate_ldap_searches_total 0"), std::string::npos) << text;
    EXPECT_EQ(render_metrics({}), "");
}

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
}  // namespace easgate::admin
