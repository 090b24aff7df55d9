// What easgate understands of ActiveSync (MS-ASHTTP): which paths it relays, malformed queries, and
// long polls held as long as the device asked rather than limits.upstream_timeout.
#include <gtest/gtest.h>

#include "gateway_fixture.hpp"
#include "test_pki.hpp"

namespace easgate::testing {
namespace {

class ActiveSyncTest : public GatewayTest {
protected:
    std::string status_of(const std::string& path, std::vector<std::string> extra = {}) {
        extra.insert(extra.end(), {"--write-out", "%{http_code}", "--output", "/dev/null"});
        return curl("alice", path, extra).out;
    }

    // POSTs a WBXML body, as a phone does.
    std::string post_wbxml(const std::string& path, const std::string& wbxml,
                           std::vector<std::string> extra = {}) {
        const auto file = work_dir() / "body.wbxml";
        write_file(file, wbxml);
        extra.insert(extra.end(), {"--data-binary", std::string("@").append(file.string()), "-H",
                                   "Content-Type: application/vnd.ms-sync.wbxml"});
        return status_of(path, extra);
    }
};

TEST_F(ActiveSyncTest, PingIsHeldForItsHeartbeatIntervalNotUpstreamTimeout) {
    start_gateway({.limits = "    upstream_timeout: 1s\n"});
    EXPECT_EQ(post_wbxml("/Microsoft-Server-ActiveSync?Cmd=Ping" + device_query + "&delayms=2500", ping_90s),
              "200")
        << gateway_log();
}

const std::string interim_joined_ping =
    "/Microsoft-Server-ActiveSync?Cmd=Ping" + device_query + "&delayms=200&interimjoined=1";

// Exchange's interim answer and its final one can arrive in one read (a TLS record, a TCP segment):
// the final one is then already read, and a held long poll must not wait on the socket for it.
TEST_F(ActiveSyncTest, AHeldPingWhoseAnswerCameWithAnInterimOneEndsAtOnce) {
    start_gateway();
    EXPECT_EQ(post_wbxml(interim_joined_ping, ping_90s, {"--max-time", "10"}), "200") << gateway_log();
}

TEST_F(ActiveSyncTest, AHeldPingWhoseAnswerCameWithAnInterimOneEndsAtOnceOverPlainHttp) {
    start_gateway({.upstream_url = start_upstream("server", 0, false)});
    EXPECT_EQ(post_wbxml(interim_joined_ping, ping_90s, {"--max-time", "10"}), "200") << gateway_log();
}

// A Ping held by an Exchange reached over plain http: the wait reads the answer's first byte before
// any read buffer is made, and the answer reaches the device whole. With Exchange hanging up
// instead, the device and the log are told as over https.
TEST_F(ActiveSyncTest, APingHeldByAPlainHttpExchangeComesBackWhole) {
    start_gateway({.upstream_url = start_upstream("server", 0, false)});
    const auto file = work_dir() / "ping.wbxml";
    write_file(file, ping_90s);
    const auto report =
        curl_report("alice", "/Microsoft-Server-ActiveSync?Cmd=Ping" + device_query + "&delayms=1500",
                    {"--data-binary", std::string("@").append(file.string()), "-H",
                     "Content-Type: application/vnd.ms-sync.wbxml"});
    EXPECT_EQ(report.value("method", ""), "POST") << gateway_log();
    EXPECT_EQ(report.value("body_length", 0u), ping_90s.size());
    EXPECT_NE(wait_for_gateway_log("cmd=Ping"), "") << gateway_log();  // logged once the answer is sent
    EXPECT_EQ(post_wbxml("/Microsoft-Server-ActiveSync?Cmd=Ping" + device_query + "&hangup=1", ping_90s),
              "503");
    EXPECT_NE(wait_for_gateway_log("sent no valid response (request not replayed): end of stream"), "")
        << gateway_log();
}

// Exchange ending a held Ping's connection without an answer (a recycled worker): the held Ping
// waits for the answer without a read buffer, and yet the device and the log are told what they
// are for a Sync that Exchange took and did not answer.
TEST_F(ActiveSyncTest, ExchangeEndingAHeldPingWithoutAnAnswerIsToldAsForASync) {
    start_gateway();
    const std::string cause = "sent no valid response (request not replayed): ";
    const auto reason_after = [&](std::size_t from) {  // in the request's access log line
        const auto log = gateway_log();
        const auto line = log.find("\"POST /Microsoft-Server-ActiveSync\"", from);
        const auto at = line == std::string::npos ? line : log.find(cause, line);
        return at == std::string::npos
                   ? std::string("(none)")
                   : log.substr(at + cause.size(), log.find('\n', at) - at - cause.size());
    };
    for (const std::string ending : {"", "&rst=1"}) {
        const auto before = gateway_log().size();
        EXPECT_EQ(
            post_wbxml("/Microsoft-Server-ActiveSync?Cmd=Sync" + device_query + "&hangup=1" + ending, "s"),
            "503");
        const auto sync_reason = reason_after(before);
        const auto between = gateway_log().size();
        EXPECT_EQ(post_wbxml("/Microsoft-Server-ActiveSync?Cmd=Ping" + device_query +
                                 "&delayms=300&hangup=1" + ending,
                             ping_90s),
                  "503");
        EXPECT_EQ(reason_after(between), sync_reason) << gateway_log();
        EXPECT_NE(sync_reason, "(none)") << gateway_log();
    }
}

TEST_F(ActiveSyncTest, APhoneThatGoesAwayCancelsItsHeldPingAtOnce) {
    start_gateway();
    const auto file = work_dir() / "ping.wbxml";
    write_file(file, ping_90s);
    // Exchange would hold this Ping for 8 s; the phone gives up after 1 s.
    curl("alice", "/Microsoft-Server-ActiveSync?Cmd=Ping" + device_query + "&delayms=8000",
         {"--max-time", "1", "--data-binary", std::string("@").append(file.string())});
    const auto log = wait_for_text(work_dir() / "easgate.err", "the device left", std::chrono::seconds(6));
    EXPECT_NE(log.find("the device left; its long poll to https://localhost:"), std::string::npos)
        << gateway_log();
    // The access log has it too, as nginx has a client that closed: 499.
    EXPECT_NE(wait_for_text(work_dir() / "easgate.err", "\"POST /Microsoft-Server-ActiveSync\" 499",
                            std::chrono::seconds(2)),
              "")
        << gateway_log();
}

// A phone that gives up before Exchange's answer comes is in the access log, as 499 when the
// answer could not be written to it. Here Exchange answers a FolderSync after 2 s, its body's
// first byte and then the rest 0.3 s later; the phone waits 1 s: the first write meets a closed
// connection (answered with a reset), the second fails.
TEST_F(ActiveSyncTest, APhoneThatGivesUpBeforeTheAnswerIsInTheAccessLogAs499) {
    start_gateway();
    curl("alice",
         "/Microsoft-Server-ActiveSync?Cmd=FolderSync" + device_query + "&delayms=2000&pausebody=300",
         {"--max-time", "1", "--data-binary", "x"});
    const auto log = wait_for_text(work_dir() / "easgate.err", "\"POST /Microsoft-Server-ActiveSync\" 499",
                                   std::chrono::seconds(5));
    EXPECT_NE(log.find("reason=\"Exchange's answer (200) did not reach the device: "), std::string::npos)
        << gateway_log();
}

TEST_F(ActiveSyncTest, LongPollWaitIsCappedByMaxLongPoll) {
    start_gateway({.limits = "    upstream_timeout: 1s\n    max_long_poll: 2s\n"});
    EXPECT_EQ(post_wbxml("/Microsoft-Server-ActiveSync?Cmd=Ping" + device_query + "&delayms=4000", ping_90s),
              "504");
    EXPECT_NE(gateway_log().find("did not answer within limits.max_long_poll (2s)"), std::string::npos)
        << gateway_log();
}

TEST_F(ActiveSyncTest, SyncWithoutWaitGetsUpstreamTimeout) {
    start_gateway({.limits = "    upstream_timeout: 1s\n"});
    // <Sync xmlns="AirSync"><Collections/></Sync>: no Wait, so Exchange answers at once.
    const std::string sync("\x03\x01\x6a\x00\x45\x1c\x01", 7);
    EXPECT_EQ(post_wbxml("/Microsoft-Server-ActiveSync?Cmd=Sync" + device_query + "&delayms=3000", sync),
              "504");
    EXPECT_NE(gateway_log().find("did not answer within limits.upstream_timeout (1s)"), std::string::npos)
        << gateway_log();
}

TEST_F(ActiveSyncTest, OnlyActiveSyncAndAutodiscoverAreRelayed) {
    start_gateway();
    EXPECT_EQ(status_of("/Microsoft-Server-ActiveSync", {"--request", "OPTIONS"}), "200");
    EXPECT_EQ(status_of("/autodiscover/autodiscover.xml", {"--data", "<Autodiscover/>"}), "200");
    EXPECT_EQ(status_of("/AutoDiscover/AutoDiscover.xml", {"--data", "<Autodiscover/>"}), "200");
    EXPECT_EQ(status_of("/owa/"), "404");
    EXPECT_EQ(status_of("/ecp/default.aspx"), "404");
    EXPECT_NE(gateway_log().find("\"GET /owa/\" 404"), std::string::npos) << gateway_log();
}

TEST_F(ActiveSyncTest, Base64QueryIsRelayedAndATruncatedOneIsRefusedWith400) {
    start_gateway();
    // MS-ASHTTP's example: version 14.0, Sync, DeviceId v140Device, DeviceType SmartPhone.
    EXPECT_EQ(status_of("/Microsoft-Server-ActiveSync?jAAJBAp2MTQwRGV2aWNlAApTbWFydFBob25l", {"--data", ""}),
              "200");
    EXPECT_EQ(status_of("/Microsoft-Server-ActiveSync?jAAJBAp2MTQwRGV2", {"--data", ""}), "400");
    EXPECT_NE(gateway_log().find("400 "), std::string::npos);
    EXPECT_NE(gateway_log().find("malformed ActiveSync request: "), std::string::npos) << gateway_log();
}

TEST_F(ActiveSyncTest, TheAccessLogNamesTheDeviceOfEitherQueryForm) {
    start_gateway();
    EXPECT_EQ(status_of("/Microsoft-Server-ActiveSync?Cmd=Sync" + device_query, {"--data", ""}), "200");
    EXPECT_EQ(status_of("/Microsoft-Server-ActiveSync?jAAJBAp2MTQwRGV2aWNlAApTbWFydFBob25l", {"--data", ""}),
              "200");
    EXPECT_EQ(status_of("/autodiscover/autodiscover.xml", {"--data", ""}), "200");
    // A request's line is logged once its answer is sent: the device may read the answer first.
    const auto log = wait_for_gateway_log("autodiscover.xml\" 200 ");
    EXPECT_NE(log.find("\" 200 "), std::string::npos) << log;
    EXPECT_NE(log.find("cmd=Sync device_id=EASGATETEST01 device_type=TestDevice protocol=- "),
              std::string::npos)
        << log;
    EXPECT_NE(log.find("cmd=Sync device_id=v140Device device_type=SmartPhone protocol=14.0 "),
              std::string::npos)
        << log;
    EXPECT_NE(log.find("autodiscover.xml\" 200 "), std::string::npos) << log;
    EXPECT_NE(log.find("cmd=- device_id=- device_type=- protocol=- "), std::string::npos) << log;
}

TEST_F(ActiveSyncTest, RequestWithoutDeviceIdIsRefusedWith400) {
    start_gateway();
    EXPECT_EQ(status_of("/Microsoft-Server-ActiveSync?Cmd=Sync&DeviceType=TestDevice"), "400");
}

}  // namespace
}  // namespace easgate::testing
