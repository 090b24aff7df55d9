// The device policy in the real binary: a denied device gets 403 and nothing reaches Exchange, an
// allowed one goes through, and each access log line names the rule that decided.
#include <gtest/gtest.h>

#include "gateway_fixture.hpp"

namespace easgate::testing {
namespace {

const std::string policy =
    "policy:\n"
    "  default: deny\n"
    "  rules:\n"
    "    - {name: no-android, action: deny, device_types: [Android]}\n"
    "    - {name: alice-devices, action: allow, users: [alice@example.test], source_networks: "
    "[127.0.0.0/8]}\n";

std::string sync_of(const std::string& device_type) {
    return "/Microsoft-Server-ActiveSync?Cmd=Sync&User=alice&DeviceId=POLICY01&DeviceType=" + device_type;
}

class DevicePolicyGatewayTest : public GatewayTest {
protected:
    std::string status_of(const std::string& device, const std::string& path) {
        return curl(device, path,
                    {"--write-out", "%{http_code}", "--output", "/dev/null", "-H",
                     "MS-ASProtocolVersion: 16.1", "--data-binary", "sync"})
            .out;
    }
};

TEST_F(DevicePolicyGatewayTest, ADeniedDeviceGets403AndTheLogNamesTheRule) {
    start_gateway({.sections = policy});
    EXPECT_EQ(status_of("alice", sync_of("Android")), "403");
    const auto log = wait_for_gateway_log("policy=no-android: denied by policy rule no-android");
    EXPECT_NE(log.find("alice@example.test \"POST " + sync_of("Android") + "\" 403"), std::string::npos)
        << gateway_log();
}

TEST_F(DevicePolicyGatewayTest, AnAllowedDeviceGoesThroughAndTheLogNamesTheRule) {
    start_gateway({.sections = policy});
    EXPECT_EQ(status_of("alice", sync_of("iPhone")), "200");
    EXPECT_NE(wait_for_gateway_log("device=iPhone/POLICY01 upstream=exchange policy=alice-devices"), "")
        << gateway_log();
}

TEST_F(DevicePolicyGatewayTest, TheDefaultDecidesWhatNoRuleMatches) {
    start_gateway({.sections = policy});
    EXPECT_EQ(status_of("sid", sync_of("iPhone")), "403");
    EXPECT_NE(wait_for_gateway_log("policy=default: denied by policy.default: no policy rule matched"), "")
        << gateway_log();
}

}  // namespace
}  // namespace easgate::testing
