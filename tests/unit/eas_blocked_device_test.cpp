// What a blocked device is told, byte for byte, per command and protocol version.
#include <gtest/gtest.h>

#include "easgate/eas/blocked_device.hpp"

namespace easgate::eas {
namespace {

EasRequest request(std::string command, std::string version) {
    EasRequest r;
    r.command = std::move(command);
    r.protocol_version = std::move(version);
    return r;
}

std::string wbxml(std::initializer_list<unsigned char> bytes) {
    return std::string(bytes.begin(), bytes.end());
}

TEST(BlockedDevice, SyncOnPageZeroNeedsNoPageSwitch) {
    // <Sync xmlns="AirSync"><Status>129</Status></Sync>
    EXPECT_EQ(blocked_device_wbxml(request("Sync", "16.1")),
              wbxml({0x03, 0x01, 0x6a, 0x00, 0x45, 0x4e, 0x03, '1', '2', '9', 0x00, 0x01, 0x01}));
}

TEST(BlockedDevice, OtherCommandsSwitchToTheirCodePage) {
    // <FolderSync xmlns="FolderHierarchy"><Status>129</Status></FolderSync>
    EXPECT_EQ(blocked_device_wbxml(request("FolderSync", "14.0")),
              wbxml({0x03, 0x01, 0x6a, 0x00, 0x00, 0x07, 0x56, 0x4c, 0x03, '1', '2', '9', 0x00, 0x01, 0x01}));
    // Ping (page 13), Provision (14), SmartReply (ComposeMail, 21, root 0x07).
    EXPECT_EQ(blocked_device_wbxml(request("Ping", "14.1"))->substr(4, 4), wbxml({0x00, 0x0d, 0x45, 0x47}));
    EXPECT_EQ(blocked_device_wbxml(request("provision", "16.0"))->substr(4, 4),
              wbxml({0x00, 0x0e, 0x45, 0x4b}));
    EXPECT_EQ(blocked_device_wbxml(request("SmartReply", "16.1"))->substr(4, 4),
              wbxml({0x00, 0x15, 0x47, 0x52}));
}

TEST(BlockedDevice, OlderProtocolsAndCommandsWithoutAStatusGet403) {
    EXPECT_FALSE(blocked_device_wbxml(request("Sync", "12.1")));
    EXPECT_FALSE(blocked_device_wbxml(request("Sync", "2.5")));
    EXPECT_FALSE(blocked_device_wbxml(request("Sync", "")));  // no version: autodiscover, OPTIONS
    EXPECT_FALSE(blocked_device_wbxml(request("GetAttachment", "16.1")));
    EXPECT_FALSE(blocked_device_wbxml(request("", "16.1")));
}

}  // namespace
}  // namespace easgate::eas
