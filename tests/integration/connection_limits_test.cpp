// Limits that protect the gateway from devices: how many connections may be open, how slowly a
// body may arrive, and which paths are relayed at all.
#include <gtest/gtest.h>
#include <sys/socket.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <memory>
#include <thread>

#include "easgate/listener/session_registry.hpp"
#include "gateway_fixture.hpp"
#include "raw_device.hpp"

namespace easgate::testing {
namespace {

namespace asio = boost::asio;

class ConnectionLimitsTest : public GatewayTest {
protected:
    std::string status_of(const std::string& path, std::vector<std::string> extra = {}) {
        extra.insert(extra.end(), {"--write-out", "%{http_code}", "--output", "/dev/null"});
        return curl("alice", path, std::move(extra)).out;
    }
};

// Connections a request is using are never closed to make room: beyond max_connections of them, a
// new one is closed at accept (no TLS handshake, nothing to pay for), and served once one ends.
TEST_F(ConnectionLimitsTest, ConnectionsBeyondMaxConnectionsInUseAreClosedAtAccept) {
    start_gateway({.limits = "    max_connections: 2\n"});
    const std::string header = "POST " + sync_path +
                               " HTTP/1.1\r\nHost: gw\r\nMS-ASProtocolVersion: 14.1\r\n"
                               "Content-Type: application/vnd.ms-sync.wbxml\r\nContent-Length: 5\r\n\r\n";
    std::vector<std::thread> uploads;
    std::vector<unsigned> statuses(2, 0);
    for (std::size_t i = 0; i < 2; ++i)
        uploads.emplace_back([&, i] {  // the header, then the body 4 s later: busy all along
            DeviceConnection device(gateway_port(), pki_dir() / "server-ca.pem", pki_dir() / "alice.pem",
                                    pki_dir() / "alice.key");
            statuses[i] = device.exchange(header + "hello", header.size(), std::chrono::seconds(4));
        });
    ASSERT_TRUE(metrics_show("easgate_device_connections 2")) << metrics();
    ASSERT_TRUE(metrics_show("easgate_device_connections_opening 0")) << metrics();
    std::this_thread::sleep_for(listener::SessionRegistry::reclaim_after + std::chrono::milliseconds(200));

    const auto refused = curl("alice", sync_path);
    EXPECT_NE(refused.exit_code, 0) << "a third connection must not be served: " << refused.out;
    EXPECT_TRUE(metrics_show("easgate_device_connections_refused_total 1")) << metrics();
    EXPECT_TRUE(metrics_show("easgate_device_connections_reclaimed_total 0")) << metrics();
    EXPECT_NE(gateway_log().find("limits.max_connections (2) reached"), std::string::npos) << gateway_log();

    for (auto& upload : uploads) upload.join();
    EXPECT_EQ(statuses, (std::vector<unsigned>{200, 200}));
    ASSERT_TRUE(metrics_show("easgate_device_connections 0")) << metrics();
    EXPECT_EQ(status_of(sync_path), "200");
}

// At max_connections, one that does nothing for anyone makes room for a new one once it has been so
// for reclaim_after: the one opening longest (many sources opening connections and never getting
// further can't lock devices out), else the one kept alive longest. A device that got in keeps its
// connection while another's is opening.
TEST_F(ConnectionLimitsTest, AtMaxConnectionsTheConnectionIdleLongestMakesRoom) {
    start_gateway({.limits = "    max_connections: 2\n    max_opening_per_address: 0\n"});
    const std::string request =
        "GET " + sync_path + " HTTP/1.1\r\nHost: gw\r\nMS-ASProtocolVersion: 14.1\r\n\r\n";
    const auto phone = [&] {
        return std::make_unique<DeviceConnection>(gateway_port(), pki_dir() / "server-ca.pem",
                                                  pki_dir() / "alice.pem", pki_dir() / "alice.key");
    };
    auto first_phone = phone();
    ASSERT_EQ(first_phone->exchange(request), 200u);  // then kept alive, idle since its answer
    asio::io_context io;
    asio::ip::tcp::socket never_opens(io);
    never_opens.connect({asio::ip::make_address("127.0.0.1"), gateway_port()});
    ASSERT_TRUE(metrics_show("easgate_device_connections 2")) << metrics();
    std::this_thread::sleep_for(listener::SessionRegistry::reclaim_after + std::chrono::milliseconds(200));

    EXPECT_EQ(status_of(sync_path), "200") << "in place of the connection still opening";
    EXPECT_TRUE(metrics_show("easgate_device_connections_reclaimed_total 1")) << metrics();
    const timeval wait{5, 0};
    ::setsockopt(never_opens.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &wait, sizeof wait);
    char byte = 0;
    boost::system::error_code ec;
    never_opens.read_some(asio::buffer(&byte, 1), ec);
    EXPECT_TRUE(ec == asio::error::eof || ec == asio::error::connection_reset) << ec.message();
    EXPECT_NE(wait_for_gateway_log("limits.max_connections (2) reached: closing the connections idle "
                                   "longest: closed one idle for "),
              "");
    EXPECT_EQ(first_phone->exchange(request), 200u) << "idle longer, but past its opening: kept";

    auto second_phone = phone();
    ASSERT_EQ(second_phone->exchange(request), 200u);
    ASSERT_TRUE(metrics_show("easgate_device_connections 2")) << metrics();
    std::this_thread::sleep_for(listener::SessionRegistry::reclaim_after + std::chrono::milliseconds(200));
    EXPECT_EQ(status_of(sync_path), "200") << "in place of the connection kept alive longest";
    EXPECT_TRUE(metrics_show("easgate_device_connections_reclaimed_total 2")) << metrics();
    EXPECT_TRUE(metrics_show("easgate_device_connections 1")) << metrics();
    EXPECT_EQ(first_phone->exchange(request), 0u) << "its connection was closed";
    EXPECT_EQ(first_phone->exchange(request), 200u) << "on a new one";
    EXPECT_EQ(second_phone->exchange(request), 200u);
    EXPECT_TRUE(metrics_show("easgate_device_connections_refused_total 0")) << metrics();
}

// Until its TLS handshake is done a connection is nobody's: it has limits.handshake_timeout from its
// accept, not the header_timeout a device has for its first request.
TEST_F(ConnectionLimitsTest, AConnectionThatNeverFinishesItsHandshakeIsClosedAtHandshakeTimeout) {
    start_gateway({.limits = "    handshake_timeout: 1s\n    header_timeout: 30s\n"});
    asio::io_context io;
    asio::ip::tcp::socket socket(io);
    socket.connect({asio::ip::make_address("127.0.0.1"), gateway_port()});
    asio::write(socket, asio::buffer(std::string("\x16\x03\x01", 3)));  // a ClientHello begun, never ended
    const timeval wait{10, 0};  // beyond handshake_timeout, short of header_timeout
    ::setsockopt(socket.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &wait, sizeof wait);
    char byte = 0;
    boost::system::error_code ec;
    socket.read_some(asio::buffer(&byte, 1), ec);
    EXPECT_TRUE(ec == asio::error::eof || ec == asio::error::connection_reset) << ec.message();
    EXPECT_NE(wait_for_gateway_log("did not finish its TLS handshake within limits.handshake_timeout (1s)"),
              "");
    EXPECT_TRUE(metrics_show("easgate_device_connections_opening 0")) << metrics();
    EXPECT_EQ(status_of(sync_path), "200") << "a device's handshake is done well within it";
}

// One host opening connections and never finishing a handshake can't take the connections every
// device needs: a source (here 127.0.0.1) has up to limits.max_opening_per_address in their
// handshake; a device from another address is served meanwhile, and 127.0.0.1 again once they end.
TEST_F(ConnectionLimitsTest, ConnectionsFromOneAddressInTheirHandshakeAreBounded) {
    start_gateway({.limits = "    max_opening_per_address: 2\n"});
    asio::io_context io;
    std::vector<asio::ip::tcp::socket> held;
    for (int i = 0; i < 2; ++i) {
        held.emplace_back(io);
        held.back().connect({asio::ip::make_address("127.0.0.1"), gateway_port()});
    }
    ASSERT_TRUE(metrics_show("easgate_device_connections_opening 2")) << metrics();

    const auto refused = curl("alice", sync_path);
    EXPECT_NE(refused.exit_code, 0) << "a third handshake from 127.0.0.1 must not be served: " << refused.out;
    EXPECT_TRUE(metrics_show("easgate_device_connections_over_address_limit_total 1")) << metrics();
    EXPECT_NE(wait_for_gateway_log("limits.max_opening_per_address (2) reached: that many connections "
                                   "from 127.0.0.1 are opening"),
              "");
    EXPECT_EQ(status_of(sync_path, {"--interface", "127.0.0.2"}), "200") << "another address";

    held.clear();  // their handshakes end, and with them their slots
    ASSERT_TRUE(metrics_show("easgate_device_connections_opening 0")) << metrics();
    EXPECT_EQ(status_of(sync_path), "200");
    EXPECT_TRUE(metrics_show("easgate_device_connections_over_address_limit_total 1")) << metrics();
}

// A handshake done with a valid certificate, then a header that doesn't come: still opening, still
// counted (else one certificate, or none on an optional listener, would open connections without
// bound); the first request's header ends that.
TEST_F(ConnectionLimitsTest, AConnectionCountsAsOpeningUntilItsFirstRequestsHeader) {
    start_gateway({.limits = "    max_opening_per_address: 2\n"});
    const std::string request =
        "GET " + sync_path + " HTTP/1.1\r\nHost: gw\r\nMS-ASProtocolVersion: 14.1\r\n\r\n";
    std::vector<std::thread> slow_devices;
    std::vector<unsigned> statuses(2, 0);
    for (std::size_t i = 0; i < 2; ++i)
        slow_devices.emplace_back([&, i] {
            DeviceConnection device(gateway_port(), pki_dir() / "server-ca.pem", pki_dir() / "alice.pem",
                                    pki_dir() / "alice.key");
            statuses[i] = device.exchange(request, 1, std::chrono::seconds(3));  // "G", then the rest
        });
    EXPECT_TRUE(metrics_show("easgate_device_connections_opening 2")) << metrics();
    EXPECT_NE(curl("alice", sync_path).exit_code, 0) << "a third from 127.0.0.1 while two are opening";
    for (auto& device : slow_devices) device.join();
    EXPECT_EQ(statuses, (std::vector<unsigned>{200, 200}));
    EXPECT_TRUE(metrics_show("easgate_device_connections_opening 0")) << metrics();
    EXPECT_EQ(status_of(sync_path), "200");
}

// One user's connections are bounded: a phone opening connections in a loop can't take the ones
// every other user needs. Over the limit, its request gets 503 with Retry-After; another user, and
// the same user once one of its connections closed, are served.
TEST_F(ConnectionLimitsTest, AUsersConnectionsBeyondMaxConnectionsPerUserGet503) {
    start_gateway({.limits = "    max_connections_per_user: 2\n"});
    const std::string request =
        "GET " + sync_path + " HTTP/1.1\r\nHost: gw\r\nMS-ASProtocolVersion: 14.1\r\n\r\n";
    const auto device = [&](const std::string& name) {
        return std::make_unique<DeviceConnection>(gateway_port(), pki_dir() / "server-ca.pem",
                                                  pki_dir() / (name + ".pem"), pki_dir() / (name + ".key"));
    };
    auto first = device("alice"), second = device("alice"), third = device("alice");
    EXPECT_EQ(first->exchange(request), 200u);
    EXPECT_EQ(second->exchange(request), 200u);
    EXPECT_EQ(third->exchange(request), 503u);
    EXPECT_NE(gateway_log().find("503 ms="), std::string::npos) << gateway_log();
    EXPECT_NE(gateway_log().find("limits.max_connections_per_user (2) connections of this user "
                                 "are open already"),
              std::string::npos)
        << gateway_log();
    EXPECT_TRUE(metrics_show("easgate_device_connections_over_user_limit_total 1")) << metrics();
    EXPECT_EQ(device("sid")->exchange(request), 200u) << "another user";
    EXPECT_EQ(second->exchange(request), 200u) << "alice's connections within the limit go on";

    first.reset();  // its session ends once easgate reads the close
    unsigned status = 0;
    for (int attempt = 0; attempt < 50 && status != 200; ++attempt) {
        if (attempt > 0) std::this_thread::sleep_for(std::chrono::milliseconds(100));
        status = third->exchange(request);  // a new connection each time: easgate closed the last
    }
    EXPECT_EQ(status, 200u);
    EXPECT_EQ(count_of(read_file(work_dir() / "upstream-0.out"), "request "), 5u)
        << "no refused request reached Exchange";
}

TEST_F(ConnectionLimitsTest, ABodyTrickledSlowerThanMinBodyRateGets408) {
    // 200 bytes/s against a minimum of 1KiB/s: refused once the grace (client_body_timeout, 2s
    // here) is over, although no single read waits as long as client_body_timeout.
    start_gateway({.limits = "    min_body_rate: 1KiB\n    client_body_timeout: 2s\n"});
    const std::string body(4000, 'x');
    // easgate answers 408 and closes; curl, still sending, may see the close before the answer.
    const auto status = status_of(sync_path, {"--data-binary", body, "--limit-rate", "200"});
    EXPECT_TRUE(status == "408" || status == "000") << status;
    EXPECT_NE(gateway_log().find("slower than limits.min_body_rate (1KiB per second)"), std::string::npos)
        << gateway_log();
    EXPECT_EQ(count_of(read_file(work_dir() / "upstream-0.out"), "request "), 0u)
        << "a read-ahead body that never arrived whole is not sent to Exchange";
    // The same body at full speed goes through.
    EXPECT_EQ(status_of(sync_path, {"--data-binary", body}), "200");
}

TEST_F(ConnectionLimitsTest, OnlyActiveSyncAutodiscoverAndConfiguredRoutesAreRelayed) {
    start_gateway({.upstream = "    routes: [/EWS/]\n"});
    EXPECT_EQ(status_of("/EWS/Exchange.asmx"), "200");
    EXPECT_EQ(status_of("/ews/exchange.asmx"), "200") << "IIS matches paths in any case";
    EXPECT_EQ(status_of("/OWA/"), "404");
    EXPECT_EQ(status_of("/EWSX"), "404") << "a prefix ending in / does not match a longer name";
    const auto upstream = read_file(work_dir() / "upstream-0.out");
    EXPECT_EQ(count_of(upstream, "request GET /EWS/Exchange.asmx"), 1u) << upstream;
    EXPECT_EQ(count_of(upstream, "request GET /OWA/"), 0u) << upstream;
}

}  // namespace
}  // namespace easgate::testing
