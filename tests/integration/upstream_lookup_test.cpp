// Exchange's name is looked up off the request path: at start and each dns_refresh, by the address
// book. A DNS server that is slow or down (played by the preloaded libeasgate-dns-shim, so no lookup
// leaves the machine) costs new connections nothing, and takes Exchange away from no one.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>

#include "fault_relay.hpp"
#include "gateway_fixture.hpp"

namespace easgate::testing {
namespace {

// Sets environment variables for the easgate about to start; unset again when it goes.
class ScopedEnvironment {
public:
    void set(const char* name, const std::string& value) {
        ::setenv(name, value.c_str(), 1);
        names_.push_back(name);
    }
    ~ScopedEnvironment() {
        for (const char* name : names_) ::unsetenv(name);
    }

private:
    std::vector<const char*> names_;
};

class UpstreamLookupTest : public GatewayTest {
protected:
    // easgate with the shim preloaded, its Exchange (the test upstream, plain http) named
    // exchange.dns-shim.test; every request connects anew (no idle pool), as new devices do.
    // Returns the port the test upstream listens on (at 127.0.0.1).
    std::uint16_t start_behind_shim(const std::string& delay_ms, const std::string& upstream_yaml = {},
                                    bool dns_down = false, const std::string& addresses = "127.0.0.1") {
        const auto live = start_upstream("server", 0, false);
        const auto port = live.substr(live.rfind(':') + 1);
        if (dns_down) write_file(down_file(), "");
        ScopedEnvironment environment;
        environment.set("LD_PRELOAD", EASGATE_DNS_SHIM);
        environment.set("EASGATE_DNS_SHIM_LOG", (work_dir() / "lookups.log").string());
        environment.set("EASGATE_DNS_SHIM_DELAY_MS", delay_ms);
        environment.set("EASGATE_DNS_SHIM_DOWN", down_file().string());
        environment.set("EASGATE_DNS_SHIM_ADDRESSES", addresses);
        start_gateway({.upstream_url = "http://exchange.dns-shim.test:" + port,
                       .limits = "    max_idle_upstream_connections: 0\n    upstream_connect_timeout: 2s\n",
                       .upstream = upstream_yaml});
        return static_cast<std::uint16_t>(std::stoi(port));
    }

    std::filesystem::path down_file() const { return work_dir() / "dns.down"; }
    std::size_t lookups() const { return count_of(read_file(work_dir() / "lookups.log"), "\n"); }
    std::string status_of_sync() {
        return curl("alice", sync_path, {"--write-out", "%{http_code}", "--output", "/dev/null"}).out;
    }
};

// Each lookup takes a second here. Before, each new connection to Exchange waited for one (and
// behind the others, on the event loop's one lookup thread).
TEST_F(UpstreamLookupTest, TheNameIsLookedUpOnceNotForEveryConnection) {
    start_behind_shim("1000");
    for (int i = 0; i < 8; ++i) EXPECT_EQ(status_of_sync(), "200") << i;
    // The start's lookup, and the first connection's own when it came before that one was done.
    EXPECT_LE(lookups(), 2u) << read_file(work_dir() / "lookups.log");
}

TEST_F(UpstreamLookupTest, WithTheDnsServerDownConnectionsGoToTheAddressesFoundBefore) {
    start_behind_shim("0", "    dns_refresh: 200ms\n");
    ASSERT_EQ(status_of_sync(), "200");
    write_file(down_file(), "");
    const auto failing = wait_for_gateway_log("looking the name up failed");
    ASSERT_FALSE(failing.empty()) << gateway_log();
    EXPECT_NE(failing.find("upstream exchange: exchange.dns-shim.test: looking the name up failed (Host not "
                           "found (non-authoritative), try again later); new connections go on to the "
                           "addresses found before (127.0.0.1:"),
              std::string::npos)
        << failing;
    for (int i = 0; i < 4; ++i) EXPECT_EQ(status_of_sync(), "200") << i;
    std::filesystem::remove(down_file());
    EXPECT_FALSE(wait_for_gateway_log("exchange.dns-shim.test: looked up again: 127.0.0.1:").empty())
        << gateway_log();
    EXPECT_EQ(count_of(gateway_log(), "looking the name up failed"), 1u) << "once per streak";
}

// A name never found (DNS down at start, or a typo in servers): each connection looks it up itself,
// and the warning and the device's 502 say what to check. Once DNS answers, devices sync again.
TEST_F(UpstreamLookupTest, ANameNeverFoundIsExplainedAndLookedUpAgainByEachConnection) {
    start_behind_shim("0", {}, true);
    const auto warning = wait_for_gateway_log("looking the name up failed");
    EXPECT_NE(warning.find("each new connection looks it up itself meanwhile. Check the name in "
                           "upstreams[].servers, and the DNS servers in /etc/resolv.conf"),
              std::string::npos)
        << warning;
    EXPECT_EQ(status_of_sync(), "502");
    const auto refused = wait_for_gateway_log("resolving exchange.dns-shim.test failed");
    EXPECT_NE(refused.find("Check the name in upstreams[].servers"), std::string::npos) << refused;
    std::filesystem::remove(down_file());
    EXPECT_EQ(status_of_sync(), "200");
}

// A name that stands for several addresses (DNS round robin, as Microsoft documents for Exchange's
// namespace): new connections take them in turn, as nginx does. Before, each refresh's first
// address took them all.
TEST_F(UpstreamLookupTest, TheAddressesOfANameTakeNewConnectionsInTurn) {
    const auto port = start_behind_shim("0", {}, false, "127.0.0.3,127.0.0.1");
    FaultRelay second("127.0.0.3", port, "127.0.0.1", port, FaultRelay::Mode::forward);
    for (int i = 0; i < 6; ++i) EXPECT_EQ(status_of_sync(), "200") << i;
    // 4 when the first request came before the start's lookup was done, and looked the name up itself.
    EXPECT_GE(second.connections(), 3u);
    EXPECT_LE(second.connections(), 4u);
}

// The server at one of the name's addresses is down with its packets dropped (powered off). Its
// connect gets half of the connect timeout, then the other address is tried; it is set aside (tried
// last) for a while, so the next connections don't wait for it, and that is logged once. Before, the first
// address had the whole timeout, and every new connection failed until the next refresh.
TEST_F(UpstreamLookupTest, AnAddressThatDropsConnectsIsSetAsideForTheOthers) {
    const auto port = start_behind_shim("0", {}, false, "127.0.0.2,127.0.0.1");
    FaultRelay dead("127.0.0.2", port, "127.0.0.1", port, FaultRelay::Mode::drop);
    for (int i = 0; i < 6; ++i) EXPECT_EQ(status_of_sync(), "200") << i;
    const std::string set_aside = "upstream exchange: connecting to 127.0.0.2:" + std::to_string(port) +
                                  " (exchange.dns-shim.test) got no answer within ";
    EXPECT_EQ(count_of(gateway_log(), set_aside), 1u) << gateway_log();
    EXPECT_NE(
        gateway_log().find("; trying its other addresses, and this one only after them until it "
                           "connects again (in its turn again after 10s, then less often while it fails)"),
        std::string::npos);
}

// A reload that replaces the upstream (its configuration changed) while DNS is down: the new one
// takes over the addresses the old one found, rather than looking the name up per connection.
TEST_F(UpstreamLookupTest, AReloadWhileDnsIsDownKeepsTheAddressesFound) {
    start_behind_shim("0");
    ASSERT_EQ(status_of_sync(), "200");
    write_file(down_file(), "");
    auto config = read_file(work_dir() / "easgate.yaml");
    const std::string entry = "  - name: exchange\n";
    ASSERT_NE(config.find(entry), std::string::npos) << config;
    config.replace(config.find(entry), entry.size(), entry + "    max_authorization_bytes: 32KiB\n");
    write_file(work_dir() / "easgate.yaml", config);
    ASSERT_NE(reload_gateway().find("reloaded "), std::string::npos) << gateway_log();
    for (int i = 0; i < 3; ++i) EXPECT_EQ(status_of_sync(), "200") << i;
}

}  // namespace
}  // namespace easgate::testing
