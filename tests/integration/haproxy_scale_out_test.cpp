// Scale-out as docs/scale-out.md describes it: HAProxy in TCP mode (TLS ends at easgate) spreads
// devices over two easgate nodes with send-proxy-v2 and checks each node's /readyz. One node gets
// SIGTERM mid-loop: its /readyz turns 503 at once, it keeps accepting for limits.shutdown_delay
// while HAProxy takes it out, answers its held Pings early, and not one device request is lost.

#include <gtest/gtest.h>

#include <filesystem>
#include <future>
#include <thread>

#include "gateway_fixture.hpp"
#include "test_pki.hpp"

namespace easgate::testing {
namespace {

// The device's own loopback address, not the one HAProxy connects to easgate from (127.0.0.1).
const std::string device_address = "127.0.0.23";
const std::string frank_device_query = "&User=frank&DeviceId=EASGATETEST01&DeviceType=iPhone";

std::string admin_port(const std::string& admin_url) { return admin_url.substr(admin_url.rfind(':') + 1); }

// docs/scale-out.md's configuration, on loopback ports, with a fast health check for the test.
std::string haproxy_config(std::uint16_t front, std::uint16_t node_a, const std::string& admin_a,
                           std::uint16_t node_b, const std::string& admin_b) {
    const auto server = [](const char* name, std::uint16_t port, const std::string& admin) {
        return std::string("    server ") + name + " 127.0.0.1:" + std::to_string(port) + " check port " +
               admin + "\n";
    };
    return "defaults\n"
           "    mode tcp\n"
           "    timeout connect 2s\n"
           "    timeout client 60s\n"
           "    timeout server 60s\n"
           "    retries 3\n"
           "    option redispatch 1\n"
           "frontend eas\n"
           "    bind 127.0.0.1:" +
           std::to_string(front) +
           "\n"
           "    default_backend easgate\n"
           "backend easgate\n"
           "    balance roundrobin\n"
           "    option httpchk GET /readyz\n"
           "    http-check expect status 200\n"
           "    default-server send-proxy-v2 inter 200ms fall 1 rise 2\n" +
           server("a", node_a, admin_a) + server("b", node_b, admin_b);
}

class HaproxyScaleOutTest : public GatewayTest {
protected:
    // A device request through HAProxy: curl's output, then a line with the status.
    CommandResult device(const std::string& query, std::vector<std::string> extra = {}) {
        extra.insert(extra.end(), {"--interface", device_address, "--write-out", "\n%{http_code}"});
        return curl_as_device(
            "https://localhost:" + std::to_string(front_) + "/Microsoft-Server-ActiveSync?" + query,
            pki_dir() / "server-ca.pem", pki_dir() / "frank.pem", pki_dir() / "frank.key", std::move(extra));
    }

    std::uint16_t front_ = 0;
};

bool answered_200(const CommandResult& result) {
    return result.exit_code == 0 && result.out.ends_with("\n200");
}

TEST_F(HaproxyScaleOutTest, ANodeStoppingMidLoopLosesNoDeviceRequest) {
    if (run_command({"haproxy", "-v"}).exit_code != 0) GTEST_SKIP() << "no haproxy: scripts/install-deps.sh";
    GatewayOptions options;
    options.listener = "    proxy_protocol: true\n    trusted_proxies: [127.0.0.0/8]\n";
    options.limits = "    shutdown_delay: 1s\n";
    start_gateway(options);
    std::filesystem::create_directories(work_dir() / "node-b");
    EasgateProcess node_b(work_dir() / "node-b", read_file(work_dir() / "easgate.yaml"));
    ASSERT_TRUE(node_b.started()) << node_b.log();
    front_ = free_tcp_port();
    write_file(work_dir() / "haproxy.cfg",
               haproxy_config(front_, gateway_port(), admin_port(admin_url("")), node_b.device_ports().at(0),
                              admin_port(node_b.admin_url())));
    ChildProcess haproxy({"haproxy", "-db", "-f", (work_dir() / "haproxy.cfg").string()},
                         work_dir() / "haproxy.out", work_dir() / "haproxy.out");
    for (int i = 0; i < 100 && !answered_200(device("Cmd=FolderSync" + frank_device_query)); ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    write_file(work_dir() / "ping.wbxml", ping_90s);

    // Held Pings on both nodes (Exchange would answer after 6 s), then a loop of Syncs.
    std::vector<std::future<CommandResult>> pings;
    for (int i = 0; i < 4; ++i)
        pings.push_back(std::async(std::launch::async, [&] {
            return device("Cmd=Ping&delayms=6000" + frank_device_query,
                          {"--data-binary", "@" + (work_dir() / "ping.wbxml").string()});
        }));
    std::vector<CommandResult> syncs;
    const auto started = std::chrono::steady_clock::now();
    bool stopped = false;
    while (std::chrono::steady_clock::now() - started < std::chrono::seconds(5)) {
        if (!stopped && std::chrono::steady_clock::now() - started > std::chrono::milliseconds(1500)) {
            ::kill(gateway_pid(), SIGTERM);
            stopped = true;
        }
        syncs.push_back(device("Cmd=Sync" + frank_device_query));
    }
    ASSERT_TRUE(stopped);
    std::size_t early = 0;  // answered by the stopping node with an empty 200, as a held long poll is
    for (const auto& sync : syncs) {
        ASSERT_TRUE(answered_200(sync)) << sync.out << sync.err << read_file(work_dir() / "haproxy.out");
        if (sync.out == "\n200") {
            ++early;
            continue;
        }
        const auto report = nlohmann::json::parse(sync.out.substr(0, sync.out.rfind('\n')));
        EXPECT_EQ(report["headers"]["X-Forwarded-For"], device_address);
    }
    // The health check (every 200 ms) takes the node out well within limits.shutdown_delay (1 s):
    // only the few Syncs of that window reach it, where a body-less Sync is a long poll cut short.
    EXPECT_LT(early, 15u) << "HAProxy kept sending devices to the stopping node";
    std::size_t early_pings = 0;
    for (auto& ping : pings) {
        const auto result = ping.get();
        EXPECT_TRUE(answered_200(result)) << result.out << result.err;
        early_pings += result.out == "\n200";
    }
    EXPECT_GT(early_pings, 0u) << "no held Ping was on the node that stopped";
    EXPECT_NE(wait_for_gateway_log("easgate stopped"), "") << gateway_log();
    // Both nodes served, and each saw the device's own address.
    EXPECT_NE(gateway_log().find(device_address + ":"), std::string::npos);
    EXPECT_NE(node_b.log().find(device_address + ":"), std::string::npos);
    std::printf("%zu Syncs and %zu Pings, all answered 200; %zu Syncs and %zu Pings early and empty\n",
                syncs.size(), pings.size(), early, early_pings);
}

}  // namespace
}  // namespace easgate::testing
