// The whole request path against the loopback lab when delegation cannot happen: users the
// directory refuses, an account without delegation rights, and a KDC or DC that never answers.
#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "child_process.hpp"
#include "fault_relay.hpp"
#include "gateway_delegation_fixture.hpp"
#include "lab_environment.hpp"
#include "negotiate_less_backend.hpp"

namespace easgate::testing {
namespace {

// Exchange's ActiveSync directory as installed offers Basic only: the phone gets the 401 (and asks
// for a password), the log names the IIS setting, not the ticket.
TEST_F(GatewayDelegationTest, AnExchangeOfferingNoNegotiateIsNamedInTheLog) {
    const NegotiateLessBackend backend(work_);
    start_gateway({.upstream_server = backend.url()});
    const auto result = as_user("alice", {"--write-out", "%{http_code}", "--output", "/dev/null"});
    EXPECT_EQ(result.out, "401");
    const auto log = gateway_->wait_for_log("answered 401");
    EXPECT_NE(log.find("answered 401 (WWW-Authenticate offers NTLM, Basic): Negotiate not offered"),
              std::string::npos)
        << log;
    EXPECT_NE(log.find("-WindowsAuthEnabled $true"), std::string::npos) << log;
    EXPECT_EQ(log.find("5 minutes"), std::string::npos) << "no Kerberos cause: " << log;
}

TEST_F(GatewayDelegationTest, DisabledUserIsRefusedWith403AndTheReason) {
    start_gateway();
    const auto result = as_user("carol", {"--write-out", "%{http_code}", "--output", "/dev/null"});
    EXPECT_EQ(result.out, "403");
    EXPECT_FALSE(gateway_->wait_for_log("disabled").empty());
}

TEST_F(GatewayDelegationTest, UserMarkedNotDelegableIsRefusedWithTheReason) {
    start_gateway();
    const auto result = as_user("dave", {"--write-out", "%{http_code}", "--output", "/dev/null"});
    EXPECT_EQ(result.out, "403");
    EXPECT_FALSE(gateway_->wait_for_log("cannot be delegated").empty());
}

// erin locked out, frank expired, grace in Protected Users through a nested group (tests/lab): each
// refused with its reason in the log and its cause on /metrics.
TEST_F(GatewayDelegationTest, LockedExpiredAndProtectedUsersAreRefusedEachWithItsCause) {
    start_gateway();
    EXPECT_EQ(status_of(as_upn("erin@example.test")), "403");
    EXPECT_EQ(status_of(as_upn("frank@example.test")), "403");
    EXPECT_EQ(status_of(as_upn("grace@example.test")), "403");
    EXPECT_FALSE(gateway_->wait_for_log("is locked out since").empty());
    EXPECT_FALSE(gateway_->wait_for_log("expired on 2020-01-01").empty());
    EXPECT_FALSE(gateway_->wait_for_log("is a member of Protected Users (S-1-5-21-").empty());
    const auto metrics =
        run_command({"curl", "--silent", "--show-error", gateway_->admin_url() + "/metrics"});
    ASSERT_EQ(metrics.exit_code, 0) << metrics.err;
    for (const char* cause : {"locked_out", "expired", "protected_users"}) {
        EXPECT_NE(metrics.out.find("easgate_requests_refused_total{status=\"403\",cause=\"" +
                                   std::string(cause) + "\"} 1\n"),
                  std::string::npos)
            << cause << "\n"
            << metrics.out;
    }
}

TEST_F(GatewayDelegationTest, RequireGroupLetsInNestedMembersOnly) {
    GatewayOptions options;
    options.directory = "  require_group: CN=eas-users,CN=Users," + lab().at("LAB_BASE_DN") + "\n";
    start_gateway(options);
    EXPECT_EQ(status_of(as_upn("alice@example.test")), "200");  // eas-users > sales > alice
    EXPECT_EQ(status_of(as_upn("ivan@example.test")), "403");
    EXPECT_FALSE(gateway_->wait_for_log("is not a member of directory.require_group").empty());
}

TEST_F(GatewayDelegationTest, UnknownUpnIsRefusedWith403) {
    start_gateway();
    EXPECT_EQ(status_of(as_upn("nobody@example.test")), "403");
}

TEST_F(GatewayDelegationTest, UpnWithLdapMetacharactersMatchesNobody) {
    start_gateway();
    EXPECT_EQ(status_of(as_upn("*@example.test")), "403");
    EXPECT_EQ(status_of(as_upn("alice@example.test)(userPrincipalName=*")), "403");
}

// The KDC answers KDC_ERR_BADOPTION to S4U2Proxy for both causes below; the S4U2Self ticket's
// forwardable flag tells them apart, and the log names the one setting to change.
class DelegationRefusalTest : public GatewayDelegationTest {
protected:
    // easgate logged in as the lab's account <prefix>_PRINCIPAL: alice's request, answered 503;
    // what the log says of the refusal.
    std::string refusal_as(const std::string& prefix) {
        start_gateway({.principal_var = prefix + "_PRINCIPAL", .keytab_var = prefix + "_KEYTAB"});
        const auto result =
            as_user("alice", {"--write-out", "%{http_code}", "--output", "/dev/null", "--include"});
        EXPECT_EQ(result.out, "503");
        return gateway_->wait_for_log("was refused");
    }
};

TEST_F(DelegationRefusalTest, AccountWithoutDelegationRightsGives503AndTheLogNamesTheFix) {
    const auto refused = refusal_as("LAB_NODELEG");
    EXPECT_NE(refused.find("the KDC made the S4U2Self ticket not forwardable, so 'Use any authentication "
                           "protocol' (protocol transition, TRUSTED_TO_AUTH_FOR_DELEGATION) is off for "
                           "EASGATE-NODELEG$"),
              std::string::npos)
        << refused;
    EXPECT_NE(refused.find("samba-tool delegation for-any-protocol EASGATE-NODELEG$ on"), std::string::npos);
}

TEST_F(DelegationRefusalTest, AnSpnMissingFromTheDelegationListIsNamed) {
    const auto refused = refusal_as("LAB_NOLIST");
    EXPECT_NE(
        refused.find(": HTTP/mail.example.test is not among the services EASGATE-NOLIST$ may delegate to "
                     "(msDS-AllowedToDelegateTo)"),
        std::string::npos)
        << refused;
    EXPECT_EQ(refused.find("TrustedToAuthForDelegation"), std::string::npos) << refused;
}

// The directory's GSSAPI bind logs in from easgate's keytab first. With no KDC to be reached that
// login fails, and no DC is at fault: the refusal says so, in the delegation stage's words and with
// its cause, and the DCs are neither counted as failing nor put to rest. Before, the device's 503
// read "no directory server answered", every DC's failure count rose, and the cause was
// "unavailable".
TEST_F(GatewayDelegationTest, ABindThatCantLogInBlamesTheKdcNotTheDirectoryServers) {
    const std::string nowhere = "127.0.0.23:" + std::to_string(free_tcp_port());  // nothing listens
    write_file(work_ / "krb5.conf", lab().krb5_conf_with_kdcs({nowhere}));
    start_gateway({.kerberos = "  timeout: 3s\n", .krb5_conf = (work_ / "krb5.conf").string()});
    const auto refused = as_user("alice", {"--include", "--output", "-"});
    EXPECT_TRUE(refused.out.starts_with("HTTP/1.1 503 ")) << refused.out;
    const auto log = gateway_->wait_for_log(
        "directory unavailable: easgate's own Kerberos login for the GSSAPI bind failed, no directory "
        "server is at fault: no KDC of realm EXAMPLE.TEST");
    EXPECT_FALSE(log.empty()) << gateway_->log();
    EXPECT_EQ(metric("easgate_requests_refused_total{status=\"503\",cause=\"kdc_unreachable\"}"), 1.0);
    const auto scraped = run_command({"curl", "--silent", gateway_->admin_url() + "/metrics"}).out;
    ASSERT_NE(scraped.find("\neasgate_directory_server_failures_total{"), std::string::npos) << scraped;
    for (auto at = scraped.find("\neasgate_directory_server_failures_total{"); at != std::string::npos;
         at = scraped.find("\neasgate_directory_server_failures_total{", at + 1)) {
        const auto line = scraped.substr(at + 1, scraped.find('\n', at + 1) - at - 1);
        EXPECT_TRUE(line.ends_with(" 0")) << line;
    }
}

// The KDC black-holed from the start: easgate still starts at once, says why it isn't ready, answers
// devices 503 + Retry-After, and serves them as soon as the KDC answers again.
TEST_F(GatewayDelegationTest, StartsWithoutTheKdcAndServesOnceItAnswers) {
    const auto& env = lab();
    FaultRelay kdc("127.0.0.22", 0, env.at("LAB_KDC"), 88, FaultRelay::Mode::silent);
    const std::string kdc_address = "127.0.0.22:" + std::to_string(kdc.port());
    write_file(work_ / "krb5.conf", env.krb5_conf_with_kdcs({kdc_address}));
    // A simple bind, so that the directory needs no KDC: only delegation meets the silent one.
    write_file(work_ / "ldap-password", env.at("LAB_ADMIN_PASSWORD"));
    const auto started = std::chrono::steady_clock::now();
    start_gateway({.directory = "  bind: {method: simple, dn: \"CN=Administrator,CN=Users," +
                                env.at("LAB_BASE_DN") +
                                "\", password_file: " + (work_ / "ldap-password").string() + "}\n",
                   .kerberos = "  timeout: 3s\n",
                   .krb5_conf = (work_ / "krb5.conf").string()});
    EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(5))
        << "listening took too long";

    const auto healthz = [&] {
        return run_command(
                   {"curl", "--silent", "--include", "--max-time", "10", gateway_->admin_url() + "/healthz"})
            .out;
    };
    EXPECT_TRUE(healthz().starts_with("HTTP/1.1 503 ")) << healthz();
    // The probe gives up after 3 s; the margin is for the sanitized build beside a compiler in CI.
    EXPECT_FALSE(
        gateway_->wait_for_log("did not answer within kerberos.timeout (3s)", std::chrono::seconds(30))
            .empty());
    const auto not_ready = healthz();
    EXPECT_NE(not_ready.find("not ready: KDC " + kdc_address +
                             " of EXAMPLE.TEST did not answer within kerberos.timeout (3s)"),
              std::string::npos)
        << not_ready;

    const auto request_started = std::chrono::steady_clock::now();
    const auto refused = as_user("alice", {"--include", "--output", "-"});
    EXPECT_LT(std::chrono::steady_clock::now() - request_started, std::chrono::seconds(8));
    EXPECT_TRUE(refused.out.starts_with("HTTP/1.1 503 ")) << refused.out;
    EXPECT_NE(refused.out.find("Retry-After: "), std::string::npos) << refused.out;

    kdc.set_mode(FaultRelay::Mode::forward);
    const auto served = as_user("alice");
    ASSERT_EQ(served.exit_code, 0) << served.err << served.out;
    EXPECT_EQ(reports(served).at(0)["user"], "alice@EXAMPLE.TEST");
    EXPECT_TRUE(healthz().starts_with("HTTP/1.1 200 ")) << healthz();
}

TEST_F(GatewayDelegationTest, NoDcAnsweringGives503WithRetryAfterWithinTheTimeout) {
    // A load balancer's VIP with no healthy member: accepts TCP, never answers the TLS ClientHello.
    const FaultRelay hole("127.0.0.21", 0, lab().at("LAB_DC_IP"), 636, FaultRelay::Mode::silent);
    const std::string hole_uri = "ldaps://127.0.0.21:" + std::to_string(hole.port());
    start_gateway({.directory_uris = hole_uri, .directory = "  timeout: 2s\n"});
    const auto start = std::chrono::steady_clock::now();
    const auto result = as_user("alice", {"--include"});
    const auto elapsed = std::chrono::steady_clock::now() - start;
    EXPECT_NE(result.out.find(" 503 "), std::string::npos) << result.out << result.err;
    EXPECT_NE(result.out.find("Retry-After: "), std::string::npos) << result.out;
    EXPECT_LT(elapsed, std::chrono::seconds(2 + 3));
    EXPECT_FALSE(gateway_->wait_for_log(hole_uri + ": timed out: no TLS handshake").empty())
        << gateway_->log();
}

TEST_F(GatewayDelegationTest, APhoneThatLeavesDuringTheDirectoryLookupIsForgottenAtOnce) {
    const FaultRelay hole("127.0.0.21", 0, lab().at("LAB_DC_IP"), 636, FaultRelay::Mode::silent);
    const std::string hole_uri = "ldaps://127.0.0.21:" + std::to_string(hole.port());
    start_gateway({.directory_uris = hole_uri, .directory = "  timeout: 5s\n"});
    // The phone gives up after 1 s; the directory would answer only at its 5 s deadline.
    as_user("alice", {"--max-time", "1"});
    const auto log = gateway_->wait_for_log("went away while the directory and KDC were asked");
    const auto logged = log.find("\" 499 ");
    ASSERT_NE(logged, std::string::npos) << gateway_->log();
    // Abandoned when the phone left, not when the lookup gave up (the request's own duration, as
    // logged, is under the directory's deadline).
    const auto duration = log.find(" ms=", logged);
    ASSERT_NE(duration, std::string::npos) << log;
    EXPECT_LT(std::stoul(log.substr(duration + 4)), 5000u) << log;
}

}  // namespace
}  // namespace easgate::testing
