// The device policy in the real binary: a denied device gets what Exchange gives a blocked device
// (403 before ActiveSync 14.0, 200 with Status 129 from 14.0 on) and nothing reaches Exchange, an
// allowed one goes through, and each access log line names the rule that decided.
#include <gtest/gtest.h>

#include <fstream>

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
    std::string status_of(const std::string& device, const std::string& path,
                          const std::string& version = "16.1") {
        return answer_of(device, path, version).first;
    }

    // The status and the body a device speaking ActiveSync `version` gets.
    std::pair<std::string, std::string> answer_of(const std::string& device, const std::string& path,
                                                  const std::string& version) {
        const auto body = work_dir() / "answer";
        const auto result = curl(device, path,
                                 {"--write-out", "%{http_code}", "--output", body.string(), "-H",
                                  "MS-ASProtocolVersion: " + version, "--data-binary", "sync"});
        std::ifstream in(body, std::ios::binary);
        return {result.out,
                std::string{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()}};
    }
};

TEST_F(DevicePolicyGatewayTest, ADeniedDeviceGets403BeforeActiveSync14AndTheLogNamesTheRule) {
    start_gateway({.sections = policy});
    EXPECT_EQ(status_of("alice", sync_of("Android"), "12.1"), "403");
    const auto log = wait_for_gateway_log("policy=no-android reason=\"denied by policy rule no-android");
    EXPECT_NE(log.find("alice@example.test \"POST /Microsoft-Server-ActiveSync\" 403"), std::string::npos)
        << gateway_log();
}

// <Sync xmlns="AirSync"><Status>129</Status></Sync> in WBXML, as Exchange answers a blocked device.
TEST_F(DevicePolicyGatewayTest, ADeniedDeviceGetsStatus129FromActiveSync14On) {
    start_gateway({.sections = policy});
    const auto [status, body] = answer_of("alice", sync_of("Android"), "16.1");
    EXPECT_EQ(status, "200");
    EXPECT_EQ(body, std::string("\x03\x01\x6a\x00\x45\x4e\x03"
                                "129"
                                "\x00\x01\x01",
                                13));
    EXPECT_NE(wait_for_gateway_log(
                  "policy=no-android reason=\"denied by policy rule no-android (answered as Exchange "
                  "answers a blocked device: Status 129)\""),
              "")
        << gateway_log();
}

TEST_F(DevicePolicyGatewayTest, AnAllowedDeviceGoesThroughAndTheLogNamesTheRule) {
    start_gateway({.sections = policy});
    EXPECT_EQ(status_of("alice", sync_of("iPhone")), "200");
    EXPECT_NE(wait_for_gateway_log("device_id=POLICY01 device_type=iPhone "), "") << gateway_log();
    EXPECT_NE(gateway_log().find(" policy=alice-devices reason=-"), std::string::npos) << gateway_log();
}

TEST_F(DevicePolicyGatewayTest, TheDefaultDecidesWhatNoRuleMatches) {
    start_gateway({.sections = policy});
    EXPECT_EQ(status_of("sid", sync_of("iPhone"), "14.0"), "200");
    EXPECT_EQ(status_of("sid", sync_of("iPhone"), "12.1"), "403");
    EXPECT_NE(
        wait_for_gateway_log("policy=default reason=\"denied by policy.default: no policy rule matched"), "")
        << gateway_log();
}

}  // namespace
}  // namespace easgate::testing
