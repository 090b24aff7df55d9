// The whole request path against the loopback lab: a device certificate → easgate → Active
// Directory (LDAP) → KDC (S4U2Self + S4U2Proxy) → Apache with mod_auth_gssapi as Exchange.
#include <gtest/gtest.h>

#include <chrono>
#include <future>
#include <nlohmann/json.hpp>
#include <thread>

#include "child_process.hpp"
#include "easgate_process.hpp"
#include "gateway_delegation_fixture.hpp"
#include "lab_environment.hpp"

namespace easgate::testing {
namespace {

std::size_t line_count(const std::string& text) { return count_of(text, "\n"); }

TEST_F(GatewayDelegationTest, AliceReachesExchangeAsAliceWithoutAPassword) {
    start_gateway();
    const auto result = as_user("alice", {"--data-binary", "sync-body", "--user", "alice:not-forwarded"});
    ASSERT_EQ(result.exit_code, 0) << result.err << result.out;
    const auto answers = reports(result);
    ASSERT_EQ(answers.size(), 1u) << result.out;
    EXPECT_EQ(answers[0]["user"], "alice@EXAMPLE.TEST");
    EXPECT_EQ(answers[0]["body_length"], 9);
    EXPECT_FALSE(gateway_->wait_for_log("alice@example.test \"POST").empty());
}

TEST_F(GatewayDelegationTest, AliceAndBobInParallelEachArriveAsThemselves) {
    start_gateway();
    auto alice = std::async(std::launch::async, [&] { return as_user("alice"); });
    auto bob = std::async(std::launch::async, [&] { return as_user("bob"); });
    const auto a = alice.get();
    const auto b = bob.get();
    ASSERT_EQ(a.exit_code, 0) << a.err << a.out;
    ASSERT_EQ(b.exit_code, 0) << b.err << b.out;
    EXPECT_EQ(reports(a).at(0)["user"], "alice@EXAMPLE.TEST");
    EXPECT_EQ(reports(b).at(0)["user"], "bob@EXAMPLE.TEST");
}

TEST_F(GatewayDelegationTest, TwoHundredRequestsFromTwentyUsersAtOnceNeverCrossUsers) {
    start_gateway();
    const auto principals_log = lab().at("LAB_MAIL_PRINCIPAL_LOG");
    const auto first_line = line_count(read_file(principals_log)) + 1;
    std::vector<std::future<std::pair<std::string, CommandResult>>> devices;
    for (int u = 1; u <= 20; ++u) {
        const std::string user = (u < 10 ? "user0" : "user") + std::to_string(u);
        devices.push_back(std::async(std::launch::async, [this, user] {
            // Ten requests on one device connection. Each is a CGI process in Apache, a few seconds
            // apiece on a loaded 2-core CI machine: curl's 60 s would cut a slow device short.
            std::vector<std::string> more{"--max-time", "300"};
            for (int i = 1; i < 10; ++i) more.push_back(url("Cmd=Ping&n=" + std::to_string(i)));
            return std::make_pair(user, as_user(user, more));
        }));
    }
    std::size_t answered = 0;
    for (auto& device : devices) {
        const auto [user, result] = device.get();
        ASSERT_EQ(result.exit_code, 0) << user << ": " << result.err << result.out;
        for (const auto& report : reports(result)) {
            EXPECT_EQ(report["user"], user + "@EXAMPLE.TEST");
            ++answered;
        }
    }
    EXPECT_EQ(answered, 200u);
    const auto check =
        run_command({"bash", std::string(EASGATE_SOURCE_DIR) + "/tests/lab/check-connections.sh",
                     "--from-line", std::to_string(first_line), principals_log});
    EXPECT_EQ(check.exit_code, 0) << check.out << check.err;
}

TEST_F(GatewayDelegationTest, FiftyRequestsFromOneUserCostOneS4U2SelfAndOneS4U2Proxy) {
    start_gateway();
    const auto kdc_log = lab().at("LAB_KDC_LOG");
    const auto kdc_before = read_file(kdc_log).size();
    std::vector<std::future<CommandResult>> devices;
    for (int d = 0; d < 5; ++d) {  // five devices of user07 at once, ten requests each
        devices.push_back(std::async(std::launch::async, [this] {
            std::vector<std::string> more;
            for (int i = 1; i < 10; ++i) more.push_back(url("Cmd=Sync&n=" + std::to_string(i)));
            return as_user("user07", more);
        }));
    }
    std::size_t answered = 0;
    for (auto& device : devices) {
        const auto result = device.get();
        ASSERT_EQ(result.exit_code, 0) << result.err << result.out;
        answered += reports(result).size();
    }
    EXPECT_EQ(answered, 50u);
    EXPECT_EQ(count_of(gateway_->log(), "obtained a ticket for user07@EXAMPLE.TEST"), 1u);
    // easgate's own counters (only user07 was served by this gateway) …
    const auto metrics =
        run_command({"curl", "--silent", "--show-error", gateway_->admin_url() + "/metrics"});
    ASSERT_EQ(metrics.exit_code, 0) << metrics.err;
    EXPECT_NE(metrics.out.find("\neasgate_kdc_s4u2self_total 1\n"), std::string::npos) << metrics.out;
    EXPECT_NE(metrics.out.find("\neasgate_kdc_s4u2proxy_total 1\n"), std::string::npos) << metrics.out;
    // … and what the KDC saw.
    const auto kdc = read_file(kdc_log).substr(kdc_before);
    EXPECT_EQ(count_of(kdc, "impersonating user07@EXAMPLE.TEST"), 1u) << "S4U2Self exchanges seen by the KDC";
    EXPECT_EQ(count_of(kdc, "constrained delegation for user07@EXAMPLE.TEST"), 1u)
        << "S4U2Proxy exchanges seen by the KDC";
}

// IIS with authPersistNonNTLM (and mod_auth_gssapi) keeps a connection's Kerberos
// authentication, so per_connection sends the token on each upstream connection's first request;
// and with every long poll (a Sync without a body), which could not go again should Exchange ask.
TEST_F(GatewayDelegationTest, PerConnectionAuthenticationSendsTheTokenOnTheFirstRequestOnly) {
    start_gateway({.backend_var = "LAB_MAIL_CONN_BOUND_BASE_URL", .authenticate = "per_connection"});
    std::vector<std::string> more;
    for (int i = 1; i < 5; ++i) more.push_back(url("Cmd=FolderSync&n=" + std::to_string(i)));
    more.push_back(url("Cmd=Sync&n=5"));
    const auto result = as_user("alice", more);
    ASSERT_EQ(result.exit_code, 0) << result.err << result.out;
    const auto answers = reports(result);
    ASSERT_EQ(answers.size(), 6u) << result.out;
    for (std::size_t i = 0; i < answers.size(); ++i) {
        EXPECT_EQ(answers[i]["user"], "alice@EXAMPLE.TEST") << i;
        EXPECT_EQ(answers[i]["connection"], answers[0]["connection"]) << i;
        // as_user's own URL goes after the extra arguments: its Sync is the last request.
        const bool token = i == 0 || i >= 4;  // the connection's first request, and the long polls
        EXPECT_EQ(answers[i]["authorization"], token ? "Negotiate" : "") << i;
    }
}

// The default: a fresh token on every request, whatever the backend keeps.
TEST_F(GatewayDelegationTest, PerRequestAuthenticationSendsATokenOnEveryRequest) {
    start_gateway({.backend_var = "LAB_MAIL_CONN_BOUND_BASE_URL"});
    const auto result = as_user("alice", {url("Cmd=Sync&n=1"), url("Cmd=Sync&n=2")});
    ASSERT_EQ(result.exit_code, 0) << result.err << result.out;
    const auto answers = reports(result);
    ASSERT_EQ(answers.size(), 3u) << result.out;
    for (const auto& answer : answers) EXPECT_EQ(answer["authorization"], "Negotiate");
}

// maxine is in 1500 groups: her token makes an Authorization header of about 18 KiB.
TEST_F(GatewayDelegationTest, ALargeKerberosTokenReachesABackendWhoseLimitsAllowIt) {
    start_gateway();
    const auto result = as_user("maxine", {"--data-binary", "sync-body"});
    ASSERT_EQ(result.exit_code, 0) << result.err << result.out;
    const auto answer = reports(result).at(0);
    EXPECT_EQ(answer["user"], "maxine@EXAMPLE.TEST");
    EXPECT_GT(answer["authorization_bytes"].get<int>(), 16 * 1024)
        << "bigger than IIS's default MaxFieldLength";
}

TEST_F(GatewayDelegationTest, ABackendRefusingTheLargeHeaderIsReportedWithTheRemedy) {
    start_gateway({.backend_var = "LAB_MAIL_CONN_BOUND_BASE_URL"});  // Apache's default 8190-byte fields
    const auto result = as_user("maxine", {"--write-out", "%{http_code}", "--output", "/dev/null"});
    EXPECT_EQ(result.out, "400") << "Exchange's answer reaches the device untouched";
    const auto log = gateway_->wait_for_log("as too long");
    EXPECT_NE(log.find(" maxine@example.test: upstream "), std::string::npos) << log;
    EXPECT_NE(log.find("refused the request as too long"), std::string::npos) << log;
    EXPECT_NE(log.find("raise MaxFieldLength and MaxRequestBytes"), std::string::npos) << log;
    EXPECT_EQ(status_of(as_user("alice", {"--write-out", "%{http_code}", "--output", "/dev/null"})), "200")
        << "a user with a small token is served by the same backend";
}

TEST_F(GatewayDelegationTest, ATokenOverMaxAuthorizationBytesIsRefusedBeforeExchange) {
    start_gateway({.upstream = "    max_authorization_bytes: 16KiB\n"});
    const auto result = as_user("maxine", {"--write-out", "%{http_code}", "--output", "/dev/null"});
    EXPECT_EQ(result.out, "502");
    const auto log = gateway_->wait_for_log("max_authorization_bytes (16KiB)");
    EXPECT_NE(log.find("the Authorization header for maxine@EXAMPLE.TEST would be"), std::string::npos)
        << log;
}

// on_challenge: the request goes first without credentials; Exchange's 401 Negotiate challenge
// brings the same request again, body and all, with the token.
TEST_F(GatewayDelegationTest, OnChallengeSendsTheTokenAfterExchangeAsksForIt) {
    start_gateway({.backend_var = "LAB_MAIL_CONN_BOUND_BASE_URL",
                   .upstream = "    send_authorization: on_challenge\n"});
    const auto access_log = lab().at("LAB_MAIL_CONN_BOUND_ACCESS_LOG");
    const auto before = read_file(access_log).size();
    const auto result = as_user("alice", {"--data-binary", "on-challenge-body", url("Cmd=Sync&n=2")});
    ASSERT_EQ(result.exit_code, 0) << result.err << result.out;
    const auto answers = reports(result);
    ASSERT_EQ(answers.size(), 2u) << result.out;
    EXPECT_EQ(answers[0]["user"], "alice@EXAMPLE.TEST");
    EXPECT_EQ(answers[0]["authorization"], "Negotiate");
    EXPECT_EQ(answers[0]["body_length"], 17) << "the body was sent again with the token";
    // The backend keeps the connection's authentication: the second request needs no token.
    EXPECT_EQ(answers[1]["user"], "alice@EXAMPLE.TEST");
    EXPECT_EQ(answers[1]["authorization"], "");
    // Apache logs a request after its answer went out: curl may be done before the last line is.
    const std::string served = "\" 200 \"POST /Microsoft-Server-ActiveSync?Cmd=Sync";
    std::string seen = read_file(access_log).substr(before);
    for (int wait = 0; wait < 100 && count_of(seen, served) < 2; ++wait) {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
        seen = read_file(access_log).substr(before);
    }
    EXPECT_EQ(count_of(seen, "\" 401 \"POST /Microsoft-Server-ActiveSync?Cmd=Sync"), 1u) << seen;
    EXPECT_EQ(count_of(seen, served), 2u) << seen;
    EXPECT_EQ(count_of(gateway_->log(), "asked for credentials; sending the request again"), 1u);
    // One token was made, bound to the TLS connection, for the challenged try; the first try and
    // the second request needed none.
    const auto metrics =
        run_command({"curl", "--silent", "--show-error", gateway_->admin_url() + "/metrics"});
    EXPECT_NE(metrics.out.find("\neasgate_delegation_tokens_total 1\n"), std::string::npos) << metrics.out;
}

// Exchange 2019 CU14+ turns Extended Protection on: a token must be bound to the TLS connection
// it arrives on. The lab's backend refuses tokens without matching tls-server-end-point bindings.
TEST_F(GatewayDelegationTest, ExtendedProtectionGetsTokensBoundToTheUpstreamTlsChannel) {
    start_gateway({.backend_var = "LAB_MAIL_EXTENDED_PROTECTION_BASE_URL"});
    const auto result = as_user("alice", {url("Cmd=Sync&n=2")});  // two requests, one upstream connection
    ASSERT_EQ(result.exit_code, 0) << result.err << result.out;
    EXPECT_EQ(count_of(result.out, "authenticated as alice@EXAMPLE.TEST channel-bound\n"), 2u) << result.out;
    // Each token is made once, bound, when it is sent: none unbound beside it.
    const auto metrics =
        run_command({"curl", "--silent", "--show-error", gateway_->admin_url() + "/metrics"});
    ASSERT_EQ(metrics.exit_code, 0) << metrics.err;
    EXPECT_NE(metrics.out.find("\neasgate_kdc_s4u2proxy_total 1\n"), std::string::npos) << metrics.out;
    EXPECT_NE(metrics.out.find("\neasgate_delegation_tokens_total 2\n"), std::string::npos) << metrics.out;
}

TEST_F(GatewayDelegationTest, WithChannelBindingOffExtendedProtectionRefusesTheToken) {
    start_gateway({.backend_var = "LAB_MAIL_EXTENDED_PROTECTION_BASE_URL",
                   .upstream = "    channel_binding: \"off\"\n"});
    const auto result = as_user("alice", {"--write-out", "\n%{http_code}"});
    EXPECT_NE(result.out.find("authenticated as alice@EXAMPLE.TEST not channel-bound\n\n401"),
              std::string::npos)
        << result.out;
    const auto log = gateway_->wait_for_log("answered 401 (WWW-Authenticate");
    EXPECT_NE(log.find(" alice@example.test: upstream "), std::string::npos) << log;
    EXPECT_NE(log.find("Extended Protection"), std::string::npos) << log;
    EXPECT_NE(log.find("(WWW-Authenticate offers Negotiate): the token was refused"), std::string::npos)
        << log;
    // The lab's clocks agree, and Apache dates its answers as IIS does: the clocks are left out.
    EXPECT_NE(log.find("the token was refused: Exchange did not accept the delegated Kerberos ticket (its "
                       "clock agrees with easgate's)"),
              std::string::npos)
        << log;
    EXPECT_EQ(log.find("clocks of easgate and Exchange"), std::string::npos) << log;
    // What an alert watches: phones then ask their users for a password.
    EXPECT_EQ(metric("easgate_upstream_token_refused_total{upstream=\"exchange\"}"), 1.0);
}

// One Exchange server holds an old key for the SPN (its alternate service account credential was
// not deployed to it): the KRB-ERROR in its 401 says so, and the log names the key, not the clocks.
TEST_F(GatewayDelegationTest, AServerWithAStaleKeyIsNamedFromItsKerberosError) {
    start_gateway({.backend_var = "LAB_MAIL_STALE_KEY_BASE_URL"});
    const auto result = as_user("alice", {"--write-out", "\n%{http_code}"});
    EXPECT_TRUE(result.out.ends_with("\n401")) << result.out;
    const auto log = gateway_->wait_for_log("answered 401 (WWW-Authenticate");
    EXPECT_NE(
        log.find("the token was refused with KRB_AP_ERR_BAD_INTEGRITY (31): Exchange could not decrypt the "
                 "ticket the KDC made for HTTP/mail.example.test@EXAMPLE.TEST"),
        std::string::npos)
        << log;
    EXPECT_NE(log.find("setspn -Q HTTP/mail.example.test names it"), std::string::npos) << log;
    EXPECT_EQ(log.find("clocks of easgate and Exchange"), std::string::npos) << log;
}

// A farm of two where one server has the stale key: the users sent to it get its 401 until passive
// health leaves it out (three users in a row), with its Kerberos error as the reason; then every
// request goes to the server that holds the current key.
TEST_F(GatewayDelegationTest, AFarmLeavesOutTheServerWithAStaleKey) {
    start_gateway(
        {.upstream_server = lab().at("LAB_MAIL_BASE_URL") + ", " + lab().at("LAB_MAIL_STALE_KEY_BASE_URL")});
    std::string statuses;
    for (const std::string user :
         {"user01", "user02", "user03", "user04", "user05", "user06", "user07", "user08"})
        statuses += status_of(as_user(user, {"--write-out", "%{http_code}", "--output", "/dev/null"})) + " ";
    const auto log = gateway_->wait_for_log("after 3 failures in a row");
    EXPECT_NE(log.find("server " + lab().at("LAB_MAIL_STALE_KEY_BASE_URL") + " left out for"),
              std::string::npos)
        << log;
    EXPECT_NE(log.find("after 3 failures in a row; the last: it answered 401: the token was refused with "
                       "KRB_AP_ERR_BAD_INTEGRITY (31)"),
              std::string::npos)
        << log;
    std::string after;
    for (const std::string user : {"user09", "user10", "user11", "user12"})
        after += status_of(as_user(user, {"--write-out", "%{http_code}", "--output", "/dev/null"})) + " ";
    EXPECT_EQ(after, "200 200 200 200 ") << "before: " << statuses;
}

TEST_F(GatewayDelegationTest, DevicesBasicCredentialsNeverReachTheBackend) {
    start_gateway();
    const auto result = as_user("bob", {"--user", "bob:device-password"});
    ASSERT_EQ(result.exit_code, 0) << result.err << result.out;
    EXPECT_EQ(reports(result).at(0)["authorization"], "Negotiate");  // the header Exchange received
    EXPECT_EQ(reports(result).at(0)["user"], "bob@EXAMPLE.TEST");
}

}  // namespace
}  // namespace easgate::testing
