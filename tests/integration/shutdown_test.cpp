// SIGTERM: easgate stops accepting, lets requests in flight finish, answers held long polls at once
// with an empty 200 (the phone re-issues them to another node) and exits 0.
#include <gtest/gtest.h>

#include <future>
#include <thread>

#include "gateway_fixture.hpp"
#include "test_pki.hpp"

namespace easgate::testing {
namespace {

class ShutdownTest : public GatewayTest {};

TEST_F(ShutdownTest, SigtermAnswersHeldPingsEarlyAndLetsRequestsInFlightFinish) {
    start_gateway();
    const auto ping_file = work_dir() / "ping.wbxml";
    write_file(ping_file, ping_90s);
    const auto write_out = std::vector<std::string>{"--write-out", "\n%{http_code} %{size_download}"};
    // Exchange would hold the Ping for 20 s, and takes 1.5 s over the FolderSync.
    auto ping = std::async(std::launch::async, [&] {
        auto extra = write_out;
        extra.insert(extra.end(), {"--data-binary", "@" + ping_file.string()});
        return curl("alice", "/Microsoft-Server-ActiveSync?Cmd=Ping" + device_query + "&delayms=20000",
                    extra);
    });
    auto folder_sync = std::async(std::launch::async, [&] {
        return curl("alice", "/Microsoft-Server-ActiveSync?Cmd=FolderSync" + device_query + "&delayms=1500",
                    write_out);
    });
    // Both requests are with Exchange once the test upstream has logged them.
    for (int i = 0; i < 100 && count_of(read_file(work_dir() / "upstream-0.out"), "request ") < 2; ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    ASSERT_EQ(count_of(read_file(work_dir() / "upstream-0.out"), "request "), 2u);

    EXPECT_EQ(stop_gateway(), 0) << "easgate exits by itself once its connections are done";
    // Answered by easgate with an empty 200: Exchange's answer would carry its JSON report.
    const auto ping_result = ping.get();
    EXPECT_TRUE(ping_result.out.ends_with("\n200 0")) << ping_result.out << ping_result.err;
    const auto folder_result = folder_sync.get();
    EXPECT_NE(folder_result.out.find("Cmd=FolderSync"), std::string::npos)
        << "finished with Exchange's answer";
    EXPECT_NE(folder_result.out.find("\n200 "), std::string::npos) << folder_result.out;
    EXPECT_NE(gateway_log().find("held long poll answered early: easgate is shutting down"),
              std::string::npos)
        << gateway_log();
}

// Behind a load balancer: /readyz turns 503 at SIGTERM while the node still serves what the
// balancer sends it until its health check has noticed (docs/scale-out.md).
TEST_F(ShutdownTest, ShutdownDelayKeepsAcceptingWithReadyzSayingDraining) {
    start_gateway({.limits = "    shutdown_delay: 2s\n"});
    const auto started = std::chrono::steady_clock::now();
    ::kill(gateway_pid(), SIGTERM);
    EXPECT_NE(wait_for_gateway_log("accepting for limits.shutdown_delay (2s) first"), "");
    const auto readyz = run_command({"curl", "--silent", "--max-time", "5", admin_url("/readyz")});
    EXPECT_NE(readyz.out.find("draining: easgate is shutting down"), std::string::npos) << readyz.out;
    const auto report = curl_report("alice", "/Microsoft-Server-ActiveSync?Cmd=FolderSync" + device_query);
    EXPECT_EQ(report["method"], "GET") << "a connection accepted while draining has its request served";
    EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(2));
    EXPECT_NE(wait_for_gateway_log("easgate stopped"), "");
}

}  // namespace
}  // namespace easgate::testing
