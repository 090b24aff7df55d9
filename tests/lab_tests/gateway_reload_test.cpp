// SIGHUP against the lab's real KDC and directory: a reload that changes nothing Kerberos uses keeps
// the delegation service and its tickets; a new keytab and principal are used from the reload on.
#include <gtest/gtest.h>
#include <signal.h>

#include <functional>
#include <thread>

#include "fault_relay.hpp"
#include "gateway_delegation_fixture.hpp"
#include "lab_administration.hpp"

namespace easgate::testing {
namespace {

class GatewayReloadLabTest : public GatewayDelegationTest {
protected:
    std::string metrics() const {
        return run_command({"curl", "--silent", "--max-time", "10", gateway_->admin_url() + "/metrics"}).out;
    }
};

TEST_F(GatewayReloadLabTest, TicketsSurviveAReloadAndANewKeytabIsUsedAfterIt) {
    start_gateway();
    ASSERT_EQ(as_user("alice").exit_code, 0) << gateway_->log();
    EXPECT_NE(metrics().find("\neasgate_kdc_s4u2self_total 1\n"), std::string::npos) << metrics();

    reload_with({});
    const auto served = as_user("alice");
    ASSERT_EQ(served.exit_code, 0) << served.out << gateway_->log();
    EXPECT_EQ(reports(served).at(0)["user"], "alice@EXAMPLE.TEST");
    EXPECT_NE(metrics().find("\neasgate_kdc_s4u2self_total 1\n"), std::string::npos)
        << "the ticket cached before the reload served the request after it: " << metrics();

    // Another account and its keytab: one that may not delegate, so the KDC's answer shows which
    // one easgate now uses.
    const auto& env = lab();
    reload_with({{env.at("LAB_EASGATE_KEYTAB"), env.at("LAB_NODELEG_KEYTAB")},
                 {env.at("LAB_EASGATE_PRINCIPAL"), env.at("LAB_NODELEG_PRINCIPAL")}});
    const auto refused = as_user("bob", {"--write-out", "%{http_code}", "--output", "/dev/null"});
    EXPECT_EQ(refused.out, "503");
    EXPECT_FALSE(gateway_->wait_for_log("msDS-AllowedToDelegateTo").empty()) << gateway_->log();
}

// A reload is how an admin makes a change in AD count now: an account disabled since its last
// request is refused at its next one after the reload, not once directory.cache_ttl (5 min) ends.
TEST_F(GatewayReloadLabTest, AReloadForgetsTheDirectorysCachedAnswers) {
    start_gateway();
    const std::string dn = "CN=user48,CN=Users," + lab().at("LAB_BASE_DN");
    const auto set_disabled = [&](bool disabled) {
        return as_administrator({"ldapmodify"}, "dn: " + dn +
                                                    "\nchangetype: modify\nreplace: userAccountControl\n"
                                                    "userAccountControl: " +
                                                    (disabled ? "514" : "512") + "\n");
    };
    EXPECT_EQ(status_of(as_upn("user48@example.test")), "200") << gateway_->log();
    ASSERT_EQ(set_disabled(true).exit_code, 0);
    struct Enable {
        std::function<void()> again;
        ~Enable() { again(); }
    } enable{[&] { set_disabled(false); }};
    EXPECT_EQ(status_of(as_upn("user48@example.test")), "200") << "the answer cached before it was disabled";
    reload_with({});
    EXPECT_EQ(status_of(as_upn("user48@example.test")), "403") << gateway_->log();
    EXPECT_FALSE(gateway_->wait_for_log("is disabled in Active Directory").empty()) << gateway_->log();
}

// The KDC is silent, so the delegation service's login is stuck in krb5 (which gives up only after
// about 27 s). A reload replaces the service; tearing the old one down waits for that thread, and
// must not hold up the thread that accepts connections and answers the admin endpoint.
TEST_F(GatewayReloadLabTest, TearingDownReplacedPartsHoldsUpNothing) {
    FaultRelay kdc("127.0.0.22", 0, lab().at("LAB_KDC"), 88, FaultRelay::Mode::silent);
    std::string conf = read_file(lab().at("KRB5_CONFIG"));
    const std::string lab_kdc = "kdc = " + lab().at("LAB_KDC") + ":88";
    conf.replace(conf.find(lab_kdc), lab_kdc.size(), "kdc = 127.0.0.22:" + std::to_string(kdc.port()));
    write_file(work_ / "krb5.conf", conf);
    start_gateway({.kerberos = "  timeout: 2s\n", .krb5_conf = (work_ / "krb5.conf").string()});
    for (int i = 0; i < 100 && kdc.connections() == 0; ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    ASSERT_GT(kdc.connections(), 0u) << "the login never reached the KDC";

    reload_with({{"  timeout: 2s\n", "  timeout: 3s\n"}});
    const auto started = std::chrono::steady_clock::now();
    const auto health = run_command({"curl", "--silent", "--max-time", "5", "--output", "/dev/null",
                                     "--write-out", "%{http_code}", gateway_->admin_url() + "/healthz"});
    EXPECT_NE(health.out, "000") << "no answer from the admin endpoint: " << health.err;
    EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(2));
}

// A reload that builds a new delegation service (a rotated keytab, a changed kerberos section)
// leaves easgate ready while the new one logs in, as the one it replaced was logged in: config
// management reloading every node of a pool at once would otherwise take them all out of the load
// balancer. Once kerberos.timeout passes without a login, it is not ready, saying why.
TEST_F(GatewayReloadLabTest, AReloadThatRenewsTheDelegationServiceStaysReadyWhileItLogsIn) {
    FaultRelay kdc("127.0.0.22", 0, lab().at("LAB_KDC"), 88, FaultRelay::Mode::forward);
    write_file(work_ / "krb5.conf", lab().krb5_conf_with_kdcs({"127.0.0.22:" + std::to_string(kdc.port())}));
    start_gateway({.kerberos = "  timeout: 4s\n", .krb5_conf = (work_ / "krb5.conf").string()});
    const auto readyz = [&] {
        return run_command(
                   {"curl", "--silent", "--include", "--max-time", "5", gateway_->admin_url() + "/readyz"})
            .out;
    };
    for (int i = 0; i < 100 && !readyz().starts_with("HTTP/1.1 200 "); ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    ASSERT_TRUE(readyz().starts_with("HTTP/1.1 200 ")) << readyz();

    kdc.set_mode(FaultRelay::Mode::silent);
    reload_with({{"  timeout: 4s\n", "  timeout: 5s\n"}});
    EXPECT_TRUE(readyz().starts_with("HTTP/1.1 200 ")) << readyz();
    EXPECT_FALSE(
        gateway_->wait_for_log("did not answer within kerberos.timeout (5s)", std::chrono::seconds(30))
            .empty());
    const auto not_ready = readyz();
    EXPECT_TRUE(not_ready.starts_with("HTTP/1.1 503 ")) << not_ready;
    EXPECT_NE(not_ready.find("did not answer within kerberos.timeout (5s)"), std::string::npos) << not_ready;
}

}  // namespace
}  // namespace easgate::testing
