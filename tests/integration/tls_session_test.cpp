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

constexpr const char* sync_request =
    "GET /Microsoft-Server-ActiveSync?Cmd=Sync&DeviceId=SESSION01&DeviceType=TestDevice HTTP/1.1\r\n"
    "Host: mail\r\nConnection: close\r\n\r\n";

class TlsSessionTest : public GatewayTest {
protected:
    TlsSessionTest()
        : tls_(device_tls(pki_dir() / "server-ca.pem", pki_dir() / "alice.pem", pki_dir() / "alice.key")) {}

    // One request from alice on a connection of its own, offering session (or none); the
    // exchange, with the session to offer next.
    ResumingExchange connect(SSL_SESSION* session) {
        auto exchange = exchange_resuming(gateway_port(), tls_, sync_request, session);
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
        const auto text = metrics();
        const auto at = text.find("\n" + series + " ");
        if (at == std::string::npos) return "";
        const auto start = at + series.size() + 2;
        return text.substr(start, text.find('\n', start) - start);
    }
};

// Exchange breaking off its answer ends the phone's connection without a close_notify (the phone
// must see the cut), and its session stays resumable for the retry that follows.
TEST_F(TlsSessionTest, ASessionOutlivesAnAnswerExchangeBrokeOff) {
    start_gateway();
    std::string cut_request = sync_request;
    cut_request.replace(cut_request.find(" HTTP/1.1"), 0, "&cutbody=10");
    auto cut = exchange_resuming(gateway_port(), tls_, cut_request, nullptr);
    EXPECT_TRUE(cut.response.starts_with("HTTP/1.1 200")) << cut.response;
    ASSERT_TRUE(cut.session);
    EXPECT_TRUE(connect(cut.session.get()).resumed);
}

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

// A resumed session is no way past its certificate's end: TLS 1.3 gives the phone a fresh session at
// each resumption, so one reconnecting often enough would otherwise never be checked again.
TEST_F(TlsSessionTest, AResumedSessionEndsWithThePhonesCertificate) {
    start_gateway();
    CertSpec spec;
    spec.common_name = spec.upn.emplace("henry@example.test");
    spec.not_after = std::chrono::seconds(4);
    const auto expires = std::chrono::steady_clock::now() + spec.not_after;
    const auto [cert, key] = pki().issuing->issue(spec).write(work_dir(), "henry", pki().issuing->cert_pem());
    auto henry = device_tls(pki_dir() / "server-ca.pem", cert, key);

    auto exchange = exchange_resuming(gateway_port(), henry, sync_request, nullptr);
    ASSERT_TRUE(exchange.response.starts_with("HTTP/1.1 200")) << exchange.response << gateway_log();
    exchange = exchange_resuming(gateway_port(), henry, sync_request, exchange.session.get());
    ASSERT_TRUE(exchange.resumed && exchange.response.starts_with("HTTP/1.1 200")) << exchange.response;

    std::this_thread::sleep_until(expires + std::chrono::milliseconds(1500));
    exchange = exchange_resuming(gateway_port(), henry, sync_request, exchange.session.get());
    EXPECT_EQ(exchange.response, "") << "refused, resumed or not";
    EXPECT_FALSE(wait_for_gateway_log("certificate has expired").empty()) << gateway_log();
}

// With crl_files and no refresh, a CRL past its nextUpdate refuses every device until the admin
// brings a current one; a phone holding a session is no exception.
TEST_F(TlsSessionTest, AResumedSessionIsRefusedOnceACrlHasRunOut) {
    // A base and its delta, both lasting 5 s (a current delta would excuse the base's end).
    write_file(pki_dir() / "issuing-ca-short.crl", pki().issuing->crl_pem(std::chrono::seconds(5)));
    write_file(pki_dir() / "issuing-ca-short-delta.crl",
               pki().issuing->delta_crl_pem(std::chrono::seconds(5)));
    const auto runs_out = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    start_gateway({.with_crls = true,
                   .crl_files = {"device-root.crl", "issuing-ca-short.crl", "issuing-ca-short-delta.crl"}});
    auto exchange = connect(nullptr);
    exchange = connect(exchange.session.get());
    ASSERT_TRUE(exchange.resumed);

    std::this_thread::sleep_until(runs_out + std::chrono::milliseconds(1500));
    exchange = exchange_resuming(gateway_port(), tls_, sync_request, exchange.session.get());
    EXPECT_EQ(exchange.response, "");
    EXPECT_FALSE(wait_for_gateway_log("CRL has expired").empty()) << gateway_log();
}

}  // namespace
}  // namespace easgate::testing
