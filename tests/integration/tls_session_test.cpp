// Device TLS sessions: a phone that reconnects resumes its session while the listener keeps it
// (tls_session_cache_size, tls_session_lifetime), and /metrics shows how many handshakes did.
#include <gtest/gtest.h>

#include <chrono>
#include <thread>
#include <vector>

#include "gateway_fixture.hpp"
#include "raw_device.hpp"

namespace easgate::testing {
namespace {

class TlsSessionTest : public GatewayTest {
protected:
    TlsSessionTest()
        : tls_(device_tls(pki_dir() / "server-ca.pem", pki_dir() / "alice.pem", pki_dir() / "alice.key")) {}

    // One request from alice on a connection of its own, offering session (or none); the
    // exchange, with the session to offer next.
    ResumingExchange connect(SSL_SESSION* session) {
        auto exchange = exchange_resuming(
            gateway_port(), tls_,
            "GET /Microsoft-Server-ActiveSync?Cmd=Sync&DeviceId=SESSION01&DeviceType=TestDevice HTTP/1.1\r\n"
            "Host: mail\r\nConnection: close\r\n\r\n",
            session);
        EXPECT_TRUE(exchange.response.starts_with("HTTP/1.1 200")) << exchange.response;
        return exchange;
    }

    // Alice reconnecting as a phone does, each time offering the newest session; whether each
    // connection resumed.
    std::vector<bool> reconnect(int connections, std::chrono::milliseconds pause = {}) {
        std::vector<bool> resumed;
        SessionPtr session{nullptr, SSL_SESSION_free};
        for (int i = 0; i < connections; ++i) {
            if (i > 0) std::this_thread::sleep_for(pause);
            auto exchange = connect(session.get());
            resumed.push_back(exchange.resumed);
            session = std::move(exchange.session);
        }
        return resumed;
    }

    boost::asio::ssl::context tls_;

    // A series' value on /metrics, "" when it is not there.
    std::string metric(const std::string& series) {
        const auto text = run_command({"curl", "-sS", admin_url("/metrics")}).out;
        const auto at = text.find("\n" + series + " ");
        if (at == std::string::npos) return "";
        const auto start = at + series.size() + 2;
        return text.substr(start, text.find('\n', start) - start);
    }
};

// Each resumption gives the phone a new session and drops the one it used: one cached session per
// phone, however often it reconnects within the lifetime.
TEST_F(TlsSessionTest, AReconnectingPhoneResumesWithOneCachedSessionAndMetricsCountIt) {
    start_gateway();
    EXPECT_EQ(reconnect(4), (std::vector<bool>{false, true, true, true}));
    EXPECT_EQ(metric("easgate_device_tls_handshakes_total"), "4");
    EXPECT_EQ(metric("easgate_device_tls_resumed_total"), "3");
    EXPECT_EQ(metric("easgate_device_tls_sessions_cached{listener=\"0\"}"), "1");
}

// TLS 1.2 resumes by session id: the same session, kept.
TEST_F(TlsSessionTest, ATls12PhoneResumesTheSameSession) {
    SSL_CTX_set_max_proto_version(tls_.native_handle(), TLS1_2_VERSION);
    start_gateway();
    EXPECT_EQ(reconnect(3), (std::vector<bool>{false, true, true}));
    EXPECT_EQ(metric("easgate_device_tls_sessions_cached{listener=\"0\"}"), "1");
}

TEST_F(TlsSessionTest, ACacheOfZeroSessionsTurnsResumptionOff) {
    start_gateway({.listener = "    tls_session_cache_size: 0\n"});
    EXPECT_EQ(reconnect(2), (std::vector<bool>{false, false}));
    EXPECT_EQ(metric("easgate_device_tls_handshakes_total"), "2");
    EXPECT_EQ(metric("easgate_device_tls_resumed_total"), "0");
    EXPECT_EQ(metric("easgate_device_tls_sessions_cached{listener=\"0\"}"), "0");
}

TEST_F(TlsSessionTest, ASessionPastItsLifetimeIsNotResumed) {
    start_gateway({.listener = "    tls_session_lifetime: 1s\n"});
    EXPECT_EQ(reconnect(2, std::chrono::milliseconds(2100)), (std::vector<bool>{false, false}));
    EXPECT_EQ(metric("easgate_device_tls_resumed_total"), "0");
}

}  // namespace
}  // namespace easgate::testing
