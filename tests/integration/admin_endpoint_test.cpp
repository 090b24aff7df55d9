// The operators' endpoint (admin.listen): health and Prometheus metrics over plain HTTP.
#include <gtest/gtest.h>

#include "gateway_fixture.hpp"

namespace easgate::testing {
namespace {

class AdminEndpointTest : public GatewayTest {
protected:
    // Status line and headers, then the body, as curl --include prints them.
    static CommandResult get(const std::string& url, std::vector<std::string> extra = {}) {
        std::vector<std::string> argv{"curl", "--silent", "--show-error", "--include", "--max-time", "10"};
        argv.insert(argv.end(), extra.begin(), extra.end());
        argv.push_back(url);
        return run_command(argv);
    }
};

TEST_F(AdminEndpointTest, HealthzAnswersOk) {
    start_gateway();
    const auto result = get(admin_url("/healthz"));
    ASSERT_EQ(result.exit_code, 0) << result.err;
    EXPECT_TRUE(result.out.starts_with("HTTP/1.1 200 OK\r\n")) << result.out;
    EXPECT_TRUE(result.out.ends_with("\r\n\r\nok\n")) << result.out;
}

TEST_F(AdminEndpointTest, MetricsUseThePrometheusTextFormat) {
    start_gateway();
    const auto result = get(admin_url("/metrics"));
    ASSERT_EQ(result.exit_code, 0) << result.err;
    EXPECT_TRUE(result.out.starts_with("HTTP/1.1 200 OK\r\n")) << result.out;
    EXPECT_NE(result.out.find("Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n"),
              std::string::npos)
        << result.out;
}

TEST_F(AdminEndpointTest, UnknownPathsAndMethodsAreRefused) {
    start_gateway();
    EXPECT_TRUE(get(admin_url("/Microsoft-Server-ActiveSync")).out.starts_with("HTTP/1.1 404 ")) << "path";
    EXPECT_TRUE(get(admin_url("/healthz"), {"--data", "x"}).out.starts_with("HTTP/1.1 405 ")) << "method";
}

}  // namespace
}  // namespace easgate::testing
