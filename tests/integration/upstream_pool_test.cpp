// Several Exchange servers behind one upstream (a CAS array): a server that can't be reached is
// skipped, one that keeps failing is left out for a while, and a request that may have reached
// Exchange is never sent twice.
#include <gtest/gtest.h>

#include <array>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>

#include "gateway_fixture.hpp"
#include "raw_device.hpp"
#include "test_pki.hpp"

namespace easgate::testing {
namespace {

class UpstreamPoolTest : public GatewayTest {
protected:
    static std::string dead_server() { return "https://localhost:" + std::to_string(free_tcp_port()); }

    // One request per device connection, so each one picks a server.
    std::string status_of(const std::string& path) {
        return curl("alice", path, {"--write-out", "%{http_code}", "--output", "/dev/null"}).out;
    }

    // Two servers; alice's request answered 451 naming the second (knobs: more of its query).
    // Checks the device was told to stay on easgate; the second server's URL.
    std::string move_alice_to_second_server(const std::string& knobs = "") {
        const auto first = start_upstream("server");
        const auto second = start_upstream("server");
        start_gateway({.upstream_url = first + ", " + second});
        const auto second_port = second.substr(second.rfind(':') + 1);
        const auto moved = curl("alice", sync_path + knobs + "&moved=" + second_port, {"--include"});
        EXPECT_TRUE(moved.out.starts_with("HTTP/1.1 451 ")) << moved.out;
        EXPECT_NE(moved.out.find("X-MS-Location: https://localhost:" + std::to_string(gateway_port()) +
                                 "/Microsoft-Server-ActiveSync\r\n"),
                  std::string::npos)
            << moved.out;
        return second;
    }

    // The keepalive timers (time left, in seconds) of the gateway's established connections to
    // port, as /proc/net/tcp shows them (tr 2, tm->when in hundredths of a second).
    std::vector<double> keepalive_timers_to(const std::string& port) const {
        std::set<std::string> inodes;  // the gateway's sockets
        for (const auto& fd :
             std::filesystem::directory_iterator("/proc/" + std::to_string(gateway_pid()) + "/fd")) {
            std::error_code unreadable;
            const auto target = std::filesystem::read_symlink(fd.path(), unreadable).string();
            if (target.starts_with("socket:[")) inodes.insert(target.substr(8, target.size() - 9));
        }
        std::vector<double> timers;
        for (const char* table : {"/proc/net/tcp", "/proc/net/tcp6"}) {
            std::ifstream lines(table);
            std::string line;
            std::getline(lines, line);  // the column names
            while (std::getline(lines, line)) {
                std::istringstream fields(line);
                std::string slot, local, remote, state, queues, timer, retransmits, uid, timeout, inode;
                fields >> slot >> local >> remote >> state >> queues >> timer >> retransmits >> uid >>
                    timeout >> inode;
                const auto remote_port = std::stoul(remote.substr(remote.rfind(':') + 1), nullptr, 16);
                if (state != "01" || !inodes.count(inode) || std::to_string(remote_port) != port) continue;
                if (timer.starts_with("02:"))
                    timers.push_back(std::stoul(timer.substr(3), nullptr, 16) / 100.0);
            }
        }
        return timers;
    }

    // How many requests the n-th test upstream received (health checks aside).
    std::size_t deliveries(int n) const {
        const auto text = read_file(work_dir() / ("upstream-" + std::to_string(n) + ".out"));
        return count_of(text, "request ") - count_of(text, "/healthcheck.htm");
    }
};

// A pooled connection to Exchange (or one holding a Ping, silent for up to an hour) probes its peer
// after a minute of silence: a firewall or load balancer in between that forgets a flow idle for
// five minutes would drop Exchange's answer unseen. Linux's own probes start after two hours.
TEST_F(UpstreamPoolTest, ConnectionsToExchangeProbeAQuietPeerWithinAMinute) {
    const auto server = start_upstream("server");
    start_gateway({.upstream_url = server});
    ASSERT_EQ(status_of(sync_path), "200");  // its connection to Exchange is pooled now
    const auto timers = keepalive_timers_to(server.substr(server.rfind(':') + 1));
    ASSERT_FALSE(timers.empty()) << "no keepalive timer on a connection to the upstream";
    EXPECT_LE(*std::min_element(timers.begin(), timers.end()), 60.0);
}

TEST_F(UpstreamPoolTest, AnUnreachableServerIsSkippedForTheNextOne) {
    const auto live = start_upstream("server");
    start_gateway({.upstream_url = dead_server() + ", " + live});
    for (int i = 0; i < 4; ++i) EXPECT_EQ(status_of(sync_path), "200") << i;
    EXPECT_EQ(deliveries(0), 4u);
    EXPECT_NE(gateway_log().find("connecting failed: Connection refused; trying the next server"),
              std::string::npos)
        << gateway_log();
}

TEST_F(UpstreamPoolTest, AServerThatKeepsFailingIsLeftOutForAWhile) {
    const auto live = start_upstream("server");
    // No idle pool: every request connects, so every request meets the dead server's turn.
    start_gateway(
        {.upstream_url = dead_server() + ", " + live, .limits = "    max_idle_upstream_connections: 0\n"});
    for (int i = 0; i < 10; ++i) EXPECT_EQ(status_of(sync_path), "200") << i;
    const auto log = gateway_log();
    EXPECT_EQ(count_of(log, "; trying the next server"), 3u) << log;
    EXPECT_NE(log.find("left out for 10s after 3 failures in a row"), std::string::npos) << log;
}

// A server that takes connections but fails at once (here its application pool is stopped: IIS
// answers 503) held no requests in flight, so it was picked for most new connections, and only a
// failed connect ever rested a server. Its answers count now: after 3 it rests as a dead one does.
TEST_F(UpstreamPoolTest, AServerAnsweringOnlyFailuresIsLeftOutForAWhile) {
    const auto stopped = start_upstream("server");
    const auto live = start_upstream("server");
    write_file(work_dir() / "upstream-0.stopped", "");
    start_gateway(
        {.upstream_url = stopped + ", " + live, .limits = "    max_idle_upstream_connections: 0\n"});
    int synced = 0;  // devices of three users in turn: one user's failures alone would rest nothing
    const std::array<const char*, 3> devices{"alice", "gina", "frank"};
    for (int i = 0; i < 20; ++i) {
        const auto status =
            curl(devices[i % 3], sync_path, {"--write-out", "%{http_code}", "--output", "/dev/null"});
        if (status.out == "200") ++synced;
    }
    EXPECT_EQ(deliveries(0), 3u);
    EXPECT_EQ(synced, 17);
    const auto log = gateway_log();
    EXPECT_NE(log.find("left out for 10s after 3 failures in a row; the last: it answered 503 Service "
                       "Unavailable, not throttling"),
              std::string::npos)
        << log;
}

// Exchange throttling a device (503 with Retry-After) is Exchange at work: its server is not rested.
TEST_F(UpstreamPoolTest, ThrottlingAnswersLeaveTheServerInService) {
    const auto first = start_upstream("server");
    const auto second = start_upstream("server");
    start_gateway(
        {.upstream_url = first + ", " + second, .limits = "    max_idle_upstream_connections: 0\n"});
    for (int i = 0; i < 8; ++i) EXPECT_EQ(status_of(sync_path + "&status=503"), "503") << i;
    EXPECT_EQ(deliveries(0), 4u);
    EXPECT_EQ(deliveries(1), 4u);
    EXPECT_EQ(gateway_log().find("left out for"), std::string::npos) << gateway_log();
}

TEST_F(UpstreamPoolTest, WhenNoServerCanBeReachedTheDeviceGets502) {
    start_gateway({.upstream_url = dead_server() + ", " + dead_server()});
    EXPECT_EQ(status_of(sync_path), "502");
}

TEST_F(UpstreamPoolTest, ARequestExchangeMayHaveReceivedIsNeverReplayed) {
    const auto first = start_upstream("server");
    const auto second = start_upstream("server");
    start_gateway({.upstream_url = first + ", " + second});
    const auto result = curl("alice", sync_path + "&hangup=1", {"--include", "--data", "mail"});
    EXPECT_TRUE(result.out.starts_with("HTTP/1.1 503 ")) << result.out;
    EXPECT_NE(result.out.find("Retry-After: 30\r\n"), std::string::npos) << result.out;
    EXPECT_EQ(deliveries(0) + deliveries(1), 1u) << "the request reached Exchange once, and only once";
    EXPECT_NE(gateway_log().find("sent no valid response (request not replayed)"), std::string::npos)
        << gateway_log();
}

// Exchange's 451: the mailbox is in another site. The device is told to keep using easgate, and
// easgate sends that user (only) to the named server from then on.
TEST_F(UpstreamPoolTest, A451RoutesTheUserToTheNamedServerAndKeepsTheDeviceOnTheGateway) {
    const auto second = move_alice_to_second_server();
    const auto first_before = deliveries(0);
    const auto second_before = deliveries(1);
    for (int i = 0; i < 4; ++i) EXPECT_EQ(status_of(sync_path), "200") << i;
    EXPECT_EQ(deliveries(0), first_before) << "alice no longer goes to the first server";
    EXPECT_EQ(deliveries(1), second_before + 4);
    EXPECT_NE(gateway_log().find("the mailbox is on " + second), std::string::npos) << gateway_log();

    // bob's mailbox did not move: his requests still go round-robin.
    for (int i = 0; i < 4; ++i) {
        EXPECT_EQ(curl("email-only", sync_path, {"--write-out", "%{http_code}", "--output", "/dev/null"}).out,
                  "200");
    }
    EXPECT_EQ(deliveries(0), first_before + 2);
}

// IIS recycling its worker, or a load balancer in front of Exchange, closes the connection with
// the 451: the device still gets easgate's location, and the user's route is kept.
TEST_F(UpstreamPoolTest, A451WithConnectionCloseIsFollowedAlike) {
    move_alice_to_second_server("&closes=1");
    const auto second_before = deliveries(1);
    for (int i = 0; i < 2; ++i) EXPECT_EQ(status_of(sync_path), "200") << i;
    EXPECT_EQ(deliveries(1), second_before + 2) << "alice's requests go to her mailbox's server";
}

// A server drained for maintenance (its health check fails) gets no more requests on the
// connections easgate pooled to it either: the phone's next request goes to another server.
TEST_F(UpstreamPoolTest, APooledConnectionToAServerFailingItsHealthCheckGoesUnused) {
    const auto first = start_upstream("server");
    const auto second = start_upstream("server");
    start_gateway({.upstream_url = first + ", " + second,
                   .upstream = "    health_check: {interval: 200ms, timeout: 200ms}\n"});
    const std::string request =
        "GET " + sync_path + " HTTP/1.1\r\nHost: gw\r\nMS-ASProtocolVersion: 14.1\r\n\r\n";
    DeviceConnection device(gateway_port(), pki_dir() / "server-ca.pem", pki_dir() / "alice.pem",
                            pki_dir() / "alice.key");
    ASSERT_EQ(device.exchange(request), 200u);
    const int drained = deliveries(0) == 1 ? 0 : 1;
    ASSERT_EQ(deliveries(drained), 1u);
    write_file(work_dir() / ("upstream-" + std::to_string(drained) + ".sick"), "");
    ASSERT_FALSE(wait_for_gateway_log("failed its health check").empty()) << gateway_log();
    for (int i = 0; i < 3; ++i) EXPECT_EQ(device.exchange(request), 200u) << i;
    EXPECT_EQ(deliveries(drained), 1u) << "nothing more went to the drained server";
    EXPECT_EQ(deliveries(1 - drained), 3u);
}

// Without public_name, the location names easgate by the request's Host; an HTTP/1.0 request may
// have none, and then there is no name to give.
TEST_F(UpstreamPoolTest, A451ToARequestWithoutHostIsRelayedUnchanged) {
    const auto first = start_upstream("server");
    const auto second = start_upstream("server");
    start_gateway({.upstream_url = first + ", " + second});
    const auto second_port = second.substr(second.rfind(':') + 1);
    const auto moved =
        curl("alice", sync_path + "&moved=" + second_port, {"--include", "--http1.0", "--header", "Host:"});
    EXPECT_TRUE(moved.out.starts_with("HTTP/1.0 451 ")) << moved.out;
    EXPECT_NE(moved.out.find("X-MS-Location: https://localhost:" + second_port +
                             "/Microsoft-Server-ActiveSync\r\n"),
              std::string::npos)
        << moved.out;
    EXPECT_NE(gateway_log().find("to a request without Host: relayed unchanged. Set listeners[].public_name"),
              std::string::npos)
        << gateway_log();
}

TEST_F(UpstreamPoolTest, A451NamingAServerOutsideTheUpstreamIsRelayedUnchanged) {
    start_gateway();
    const auto moved = curl("alice", sync_path + "&moved=1", {"--include"});
    EXPECT_TRUE(moved.out.starts_with("HTTP/1.1 451 ")) << moved.out;
    EXPECT_NE(moved.out.find("X-MS-Location: https://localhost:1/Microsoft-Server-ActiveSync\r\n"),
              std::string::npos)
        << moved.out;
    EXPECT_NE(gateway_log().find("names no server of upstream exchange: relayed unchanged"),
              std::string::npos)
        << gateway_log();
}

// IIS keeps Kerberos authentication per connection: an idle upstream connection is kept for the
// user it carried, serves that user's next device connection, and never another user's.
TEST_F(UpstreamPoolTest, AnIdleUpstreamConnectionServesOnlyItsOwnUserAndExpires) {
    start_gateway({.limits = "    upstream_idle_timeout: 2s\n"});
    // Three device connections of alice: each worker thread (2 here) pools its own connections,
    // so the third lands where the first did and takes its upstream connection.
    std::set<int> alice_connections;
    int reused = 0;
    for (int i = 0; i < 3; ++i) {
        const auto report = curl_report("alice", sync_path);
        alice_connections.insert(report["connection"].get<int>());
        if (report["request_on_connection"] == 2) ++reused;
    }
    EXPECT_EQ(alice_connections.size(), 2u);
    EXPECT_EQ(reused, 1);
    const auto bob = curl_report("email-only", sync_path);
    EXPECT_FALSE(alice_connections.contains(bob["connection"].get<int>()))
        << "bob never gets alice's connection";
    EXPECT_EQ(bob["request_on_connection"], 1);

    std::this_thread::sleep_for(std::chrono::milliseconds(2500));  // past upstream_idle_timeout
    for (int i = 0; i < 2; ++i) {
        const auto later = curl_report("alice", sync_path);
        EXPECT_FALSE(alice_connections.contains(later["connection"].get<int>())) << i;
        EXPECT_EQ(later["request_on_connection"], 1) << i;
    }
}

// Exchange's healthcheck.htm, asked every interval: a server that fails it gets no requests (not
// even a first try) until it passes again.
TEST_F(UpstreamPoolTest, AServerFailingItsHealthCheckIsLeftOutUntilItPasses) {
    const auto first = start_upstream("server");
    const auto second = start_upstream("server");
    write_file(work_dir() / "upstream-0.sick", "");
    start_gateway({.upstream_url = first + ", " + second,
                   .limits = "    max_idle_upstream_connections: 0\n",  // each request picks a server
                   .upstream = "    health_check: {interval: 200ms, timeout: 200ms}\n"});
    ASSERT_FALSE(wait_for_gateway_log("failed its health check").empty()) << gateway_log();
    const auto first_before = deliveries(0);
    for (int i = 0; i < 4; ++i) EXPECT_EQ(status_of(sync_path), "200") << i;
    EXPECT_EQ(deliveries(0), first_before) << "no request went to the failing server";

    std::filesystem::remove(work_dir() / "upstream-0.sick");
    ASSERT_FALSE(wait_for_gateway_log("passes its health check again").empty()) << gateway_log();
    for (int i = 0; i < 4; ++i) EXPECT_EQ(status_of(sync_path), "200") << i;
    EXPECT_GT(deliveries(0), first_before) << "the server is back in turn";
    EXPECT_NE(gateway_log().find("GET /Microsoft-Server-ActiveSync/healthcheck.htm answered 503"),
              std::string::npos)
        << gateway_log();
}

TEST_F(UpstreamPoolTest, TheNextConnectionToAServerResumesItsTlsSession) {
    start_gateway({.limits = "    max_idle_upstream_connections: 0\n"});  // every request connects
    for (int i = 0; i < 3; ++i) EXPECT_EQ(status_of(sync_path), "200") << i;
    const auto figures = metrics();
    EXPECT_NE(figures.find("easgate_upstream_tls_handshakes_total{upstream=\"exchange\"} 3\n"),
              std::string::npos)
        << figures;
    EXPECT_NE(figures.find("easgate_upstream_tls_resumed_total{upstream=\"exchange\"} 2\n"),
              std::string::npos)
        << figures;
}

}  // namespace
}  // namespace easgate::testing
