// The device policy with Exchange's own per-user device lists, read from the lab's directory:
// judy's msExchMobileAllowedDeviceIDs holds JUDYPHONE01, her msExchMobileBlockedDeviceIDs the
// tests' usual EASGATETEST01 (tests/lab/provision.sh extends the schema as Exchange's setup does).
#include <gtest/gtest.h>

#include <string>

#include "child_process.hpp"
#include "gateway_delegation_fixture.hpp"

namespace easgate::testing {
namespace {

class GatewayPolicyTest : public GatewayDelegationTest {
protected:
    // The status judy's device with this DeviceId gets for a Sync.
    std::string judy_syncs_from(const std::string& device_id) {
        CertSpec spec;
        spec.common_name = "device";
        spec.upn = "judy@example.test";
        const auto [cert, key] = test_ca_->issue(spec).write(work_, "judy-device");
        const auto url = "https://" + lab().at("LAB_GW_HOST") + ":" + std::to_string(port_) +
                         "/Microsoft-Server-ActiveSync?Cmd=Sync&User=judy&DeviceId=" + device_id +
                         "&DeviceType=TestDevice";
        return curl_as_device(url, lab().at("LAB_CA_FILE"), cert, key,
                              {"--write-out", "%{http_code}", "--output", "/dev/null"})
            .out;
    }
};

TEST_F(GatewayPolicyTest, ExchangesDeviceListsDecideBeforeTheRules) {
    GatewayOptions options;
    options.sections =
        "policy:\n  use_exchange_device_lists: true\n  rules:\n"
        "    - {name: no-blackberry, action: deny, device_types: [BlackBerry]}\n";
    start_gateway(options);
    EXPECT_EQ(judy_syncs_from("JUDYPHONE01"), "200");
    EXPECT_EQ(judy_syncs_from("EASGATETEST01"), "403");
    EXPECT_FALSE(gateway_->wait_for_log("device EASGATETEST01 is in msExchMobileBlockedDeviceIDs of CN=judy,")
                     .empty());
    EXPECT_EQ(judy_syncs_from("SOMEOTHERPHONE"), "403");
    EXPECT_FALSE(
        gateway_->wait_for_log("device SOMEOTHERPHONE is not in msExchMobileAllowedDeviceIDs").empty());
    // alice has no lists: the rules decide for her.
    EXPECT_EQ(status_of(as_upn("alice@example.test")), "200");
}

TEST_F(GatewayPolicyTest, WithoutTheSettingExchangesListsAreNotConsulted) {
    GatewayOptions options;
    options.sections =
        "policy:\n  rules:\n    - {name: no-blackberry, action: deny, device_types: [BlackBerry]}\n";
    start_gateway(options);
    EXPECT_EQ(judy_syncs_from("EASGATETEST01"), "200");
}

}  // namespace
}  // namespace easgate::testing
