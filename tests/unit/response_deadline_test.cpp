#include "easgate/upstream/response_deadline.hpp"

#include <gtest/gtest.h>

namespace easgate::upstream {
namespace {

using std::chrono::seconds;

std::span<const std::uint8_t> bytes_of(const std::string& text) {
    return {reinterpret_cast<const std::uint8_t*>(text.data()), text.size()};
}

class ResponseDeadlineTest : public ::testing::Test {
protected:
    ResponseDeadline deadline(const std::string& command, const std::string& body = "",
                              bool complete = true) {
        eas::EasRequest request{};
        request.command = command;
        return response_deadline(request, bytes_of(body), complete, limits_);
    }

    config::LimitsConfig limits_;  // upstream_timeout 120s, max_long_poll 61m
};

// WBXML: <Ping><HeartbeatInterval>N</HeartbeatInterval></Ping> (code page 13).
std::string ping(const std::string& seconds_text) {
    return std::string("\x03\x01\x6a\x00\x00\x0d\x45\x48\x03", 9) + seconds_text +
           std::string("\x00\x01\x01", 3);
}

TEST_F(ResponseDeadlineTest, OrdinaryCommandsGetUpstreamTimeout) {
    const auto d = deadline("FolderSync");
    EXPECT_EQ(d.timeout, seconds(120));
    EXPECT_EQ(d.origin, "limits.upstream_timeout");
}

TEST_F(ResponseDeadlineTest, PingWaitsItsHeartbeatIntervalPlusAMinute) {
    EXPECT_EQ(deadline("Ping", ping("900")).timeout, seconds(960));
    EXPECT_EQ(deadline("Ping", ping("3540")).timeout, seconds(3600));
    EXPECT_NE(deadline("Ping", ping("900")).origin.find("Ping's interval"), std::string::npos);
}

TEST_F(ResponseDeadlineTest, ShortIntervalsNeverWaitLessThanUpstreamTimeout) {
    EXPECT_EQ(deadline("Ping", ping("10")).timeout, seconds(120));
}

TEST_F(ResponseDeadlineTest, MaxLongPollCapsEveryWait) {
    limits_.max_long_poll = seconds(600);
    EXPECT_EQ(deadline("Ping", ping("3540")).timeout, seconds(600));
    EXPECT_EQ(deadline("Ping", ping("3540")).origin, "limits.max_long_poll");
}

TEST_F(ResponseDeadlineTest, PingOrSyncWithoutBodyMayReuseAnIntervalEasgateCannotSee) {
    EXPECT_EQ(deadline("Ping").timeout, limits_.max_long_poll);
    EXPECT_EQ(deadline("Sync").timeout, limits_.max_long_poll);
}

TEST_F(ResponseDeadlineTest, SyncIsALongPollOnlyWithWait) {
    // <Sync><Wait>5</Wait></Sync> (code page 0): five minutes.
    const std::string wait_5(std::string("\x03\x01\x6a\x00\x45\x64\x03", 7) + "5" +
                             std::string("\x00\x01\x01", 3));
    EXPECT_EQ(deadline("Sync", wait_5).timeout, seconds(360));
    // <Sync><Collections/></Sync>: answered at once.
    EXPECT_EQ(deadline("Sync", std::string("\x03\x01\x6a\x00\x45\x1c\x01", 7)).timeout, seconds(120));
}

TEST_F(ResponseDeadlineTest, APingWhoseBodyCannotBeReadIsStillHeld) {
    EXPECT_EQ(deadline("Ping", "not wbxml").timeout, limits_.max_long_poll);
    EXPECT_EQ(deadline("Ping", ping("90"), false).timeout, limits_.max_long_poll);
    EXPECT_EQ(deadline("Sync", "not wbxml").timeout, seconds(120));
}

}  // namespace
}  // namespace easgate::upstream
