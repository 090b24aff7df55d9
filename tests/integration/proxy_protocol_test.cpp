// A listener behind a load balancer in TCP mode (proxy_protocol: true): the device's address comes
// from the PROXY header a trusted proxy puts before the TLS ClientHello. The proxy here is a relay
// on 127.0.0.1 that writes the header first, as HAProxy's send-proxy does.

#include <sys/socket.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <chrono>
#include <thread>

#include "easgate/listener/session_registry.hpp"
#include "fault_relay.hpp"
#include "gateway_fixture.hpp"
#include "test_pki.hpp"

namespace easgate::testing {
namespace {

const std::string ping =
    "/Microsoft-Server-ActiveSync?Cmd=Ping&User=frank&DeviceId=EASGATETEST01&DeviceType=iPhone";

GatewayOptions behind_proxies(const std::string& trusted) {
    GatewayOptions options;
    options.listener = "    proxy_protocol: true\n    trusted_proxies: [" + trusted + "]\n";
    return options;
}

class ProxyProtocolTest : public GatewayTest {
protected:
    // A request from the frank device through a relay that sends header first; the upstream's report.
    CommandResult through_proxy(const std::string& header) {
        relay_ = std::make_unique<FaultRelay>("127.0.0.1", 0, "127.0.0.1", gateway_port(),
                                              FaultRelay::Mode::forward);
        relay_->send_first(header);
        return curl_as_device("https://localhost:" + std::to_string(relay_->port()) + ping,
                              pki_dir() / "server-ca.pem", pki_dir() / "frank.pem", pki_dir() / "frank.key",
                              {"--fail-with-body"});
    }

    void expect_device_seen_as(const CommandResult& result, const std::string& address,
                               const std::string& port) {
        ASSERT_EQ(result.exit_code, 0) << result.err << result.out << gateway_log();
        const auto report = nlohmann::json::parse(result.out);
        EXPECT_EQ(report["headers"]["X-Forwarded-For"], address);
        // An IPv6 peer in brackets, as in a URL, so its port reads apart from its address.
        const bool v6 = address.find(':') != std::string::npos;
        const auto peer = (v6 ? "[" + address + "]" : address) + ":" + port + " ";
        EXPECT_NE(wait_for_gateway_log(peer + "frank@"), "") << "no access log line from " << peer;
    }

    std::uint64_t refusals(const std::string& reason) {
        const auto figures = metrics();
        const std::string series = "easgate_proxy_protocol_refused_total{reason=\"" + reason + "\"} ";
        const auto at = figures.find(series);
        return at == std::string::npos ? ~0ull : std::stoull(figures.substr(at + series.size()));
    }

    // A TCP connection to the listener that sends nothing of its own yet.
    boost::asio::ip::tcp::socket connect_plain() {
        boost::asio::ip::tcp::socket socket(io_);
        socket.connect({boost::asio::ip::make_address("127.0.0.1"), gateway_port()});
        return socket;
    }

    std::unique_ptr<FaultRelay> relay_;
    boost::asio::io_context io_;
};

TEST_F(ProxyProtocolTest, V1HeaderFromATrustedProxyNamesTheDevice) {
    start_gateway(behind_proxies("127.0.0.0/8"));
    expect_device_seen_as(through_proxy("PROXY TCP4 203.0.113.7 127.0.0.1 51234 443\r\n"), "203.0.113.7",
                          "51234");
}

TEST_F(ProxyProtocolTest, V2HeaderFromATrustedProxyNamesTheDevice) {
    start_gateway(behind_proxies("127.0.0.1/32"));
    std::string header("\r\n\r\n\0\r\nQUIT\n\x21\x21\x00\x24", 16);
    const unsigned char source[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 7};
    header.append(reinterpret_cast<const char*>(source), 16);
    header.append(16, '\0');               // the destination: not used
    header.append("\x12\x67\x01\xBB", 4);  // ports 4711 and 443
    expect_device_seen_as(through_proxy(header), "2001:db8::7", "4711");
}

TEST_F(ProxyProtocolTest, LocalHeaderKeepsTheProxysAddress) {
    start_gateway(behind_proxies("127.0.0.0/8"));
    const auto result = through_proxy(std::string("\r\n\r\n\0\r\nQUIT\n\x20\x00\x00\x00", 16));
    ASSERT_EQ(result.exit_code, 0) << result.err << gateway_log();
    EXPECT_EQ(nlohmann::json::parse(result.out)["headers"]["X-Forwarded-For"], "127.0.0.1");
}

TEST_F(ProxyProtocolTest, AnUntrustedSourceIsClosedUnread) {
    start_gateway(behind_proxies("127.0.0.99/32"));
    expect_refused("frank", "PROXY protocol: not in trusted_proxies");
    EXPECT_EQ(refusals("untrusted_source"), 1u);
    EXPECT_EQ(refusals("missing"), 0u);
}

TEST_F(ProxyProtocolTest, AMissingHeaderIsRefusedWithTheReasonLogged) {
    start_gateway(behind_proxies("127.0.0.0/8"));
    expect_refused("frank",
                   "no PROXY protocol header: the connection starts with byte 0x16 (a TLS handshake)");
    EXPECT_EQ(refusals("missing"), 1u);
}

// Every connection comes from the proxy: handshakes are counted by the device address its header
// names, so one device flooding does not shut out the others behind the same HAProxy.
TEST_F(ProxyProtocolTest, HandshakesAreCountedByTheDeviceAddressTheHeaderNames) {
    auto options = behind_proxies("127.0.0.0/8");
    options.limits = "    max_opening_per_address: 1\n";
    start_gateway(options);
    auto held = connect_plain();
    boost::asio::write(held,
                       boost::asio::buffer(std::string("PROXY TCP4 203.0.113.7 127.0.0.1 5000 443\r\n")));
    ASSERT_TRUE(metrics_show("easgate_device_connections_opening 1")) << metrics();

    expect_device_seen_as(through_proxy("PROXY TCP4 203.0.113.8 127.0.0.1 51234 443\r\n"), "203.0.113.8",
                          "51234");
    EXPECT_NE(through_proxy("PROXY TCP4 203.0.113.7 127.0.0.1 51235 443\r\n").exit_code, 0);
    EXPECT_NE(wait_for_gateway_log("that many connections from 203.0.113.7 are opening"), "");
    EXPECT_TRUE(metrics_show("easgate_device_connections_over_address_limit_total 1")) << metrics();
}

// At limits.max_connections a connection whose PROXY header has not come makes room like any other
// still opening: counted and logged as reclaimed, not as a proxy that sent no header.
TEST_F(ProxyProtocolTest, AConnectionReclaimedBeforeItsHeaderIsNoProxyRefusal) {
    auto options = behind_proxies("127.0.0.0/8");
    options.limits = "    max_connections: 1\n";
    start_gateway(options);
    const auto silent = connect_plain();
    ASSERT_TRUE(metrics_show("easgate_device_connections 1")) << metrics();
    std::this_thread::sleep_for(listener::SessionRegistry::reclaim_after + std::chrono::milliseconds(200));

    expect_device_seen_as(through_proxy("PROXY TCP4 203.0.113.7 127.0.0.1 51234 443\r\n"), "203.0.113.7",
                          "51234");
    EXPECT_TRUE(metrics_show("easgate_device_connections_reclaimed_total 1")) << metrics();
    EXPECT_EQ(refusals("missing"), 0u);
    EXPECT_EQ(gateway_log().find("PROXY protocol: no PROXY protocol header"), std::string::npos)
        << gateway_log();
}

TEST_F(ProxyProtocolTest, AMalformedHeaderIsRefusedWithTheReasonLogged) {
    start_gateway(behind_proxies("127.0.0.0/8"));
    EXPECT_NE(through_proxy("PROXY TCP4 203.0.113.7 127.0.0.1 99999 443\r\n").exit_code, 0);
    EXPECT_NE(wait_for_gateway_log("version 1 port is not a number from 0 to 65535"), "");
    EXPECT_EQ(refusals("malformed"), 1u);
}

TEST_F(ProxyProtocolTest, AHeaderThatNeverEndsIsRefusedAtHandshakeTimeout) {
    start_gateway(behind_proxies("127.0.0.0/8"));
    auto socket = connect_plain();
    const timeval wait{10,
                       0};  // beyond the fixture's limits.handshake_timeout (5s): no hang if it is not kept
    ::setsockopt(socket.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &wait, sizeof wait);
    boost::asio::write(socket, boost::asio::buffer(std::string("PROXY TCP4 203.0.113.7 ")));
    char byte = 0;
    boost::system::error_code ec;
    socket.read_some(boost::asio::buffer(&byte, 1), ec);
    EXPECT_EQ(ec, boost::asio::error::eof) << ec.message();
    EXPECT_NE(wait_for_gateway_log("no complete PROXY header within limits.handshake_timeout (5s)"), "");
    EXPECT_EQ(refusals("timeout"), 1u);
}

TEST_F(ProxyProtocolTest, WithoutProxyProtocolAHeaderIsAFailedHandshake) {
    start_gateway();
    const auto result = through_proxy("PROXY TCP4 203.0.113.7 127.0.0.1 51234 443\r\n");
    EXPECT_NE(result.exit_code, 0) << result.out;
    EXPECT_NE(wait_for_gateway_log("refused TLS handshake from 127.0.0.1"), "");
    EXPECT_EQ(gateway_log().find("203.0.113.7"), std::string::npos);
}

TEST_F(ProxyProtocolTest, AReloadTurnsItOnForNewConnections) {
    start_gateway();
    auto config = read_file(work_dir() / "easgate.yaml");
    config.replace(config.find("upstreams:\n"), 0,
                   "    proxy_protocol: true\n    trusted_proxies: [127.0.0.0/8]\n");
    write_file(work_dir() / "easgate.yaml", config);
    EXPECT_NE(reload_gateway().find("reloaded "), std::string::npos);
    expect_device_seen_as(through_proxy("PROXY TCP4 203.0.113.9 127.0.0.1 40000 443\r\n"), "203.0.113.9",
                          "40000");
    expect_refused("frank", "no PROXY protocol header");
}

}  // namespace
}  // namespace easgate::testing
