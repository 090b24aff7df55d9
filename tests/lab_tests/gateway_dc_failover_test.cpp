// Several DCs, as every estate has: the lab's dc2 is joined to dc1's domain and replicates with it.
// easgate lists both (directory.uris, and krb5.conf's kdc lines); one DC goes down while phones
// sync, as when an admin patches it. tests/lab/dc.sh takes it down; every test brings it back.
#include <gtest/gtest.h>

#include <chrono>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include "child_process.hpp"
#include "easgate/common/text.hpp"
#include "gateway_delegation_fixture.hpp"
#include "lab_administration.hpp"

namespace easgate::testing {
namespace {

class GatewayDcFailoverTest : public GatewayDelegationTest {
protected:
    void SetUp() override {
        GatewayDelegationTest::SetUp();
        const auto synced = replicate_dcs_now();  // a service's new key, say, made on dc1
        ASSERT_EQ(synced.exit_code, 0) << synced.err;
    }

    void TearDown() override {
        const auto started = dc("start", "dc1");
        EXPECT_EQ(started.exit_code, 0) << "dc1 could not be brought back: " << started.err;
        GatewayDelegationTest::TearDown();
    }

    static std::string script() { return std::string(EASGATE_SOURCE_DIR) + "/tests/lab/dc.sh"; }
    static CommandResult dc(const std::string& action, const std::string& name) {
        return run_command({"bash", script(), action, name}, std::chrono::seconds(90));
    }

    // easgate's own copy of the lab's krb5.conf, which the admin edits in a test.
    std::string krb5_conf() const { return (work_ / "krb5.conf").string(); }
    void krb5_conf_lists(const std::vector<std::string>& kdcs) const {
        write_file(krb5_conf(), lab().krb5_conf_with_kdcs(kdcs));
    }

    void start_with_both_dcs(const std::string& kerberos = "") {
        krb5_conf_lists({lab().at("LAB_DC_IP") + ":88", lab().at("LAB_DC2_IP") + ":88"});
        GatewayOptions options;
        options.krb5_conf = krb5_conf();
        options.directory_uris = lab().at("LAB_LDAPS_URL") + ", " + lab().at("LAB_DC2_LDAPS_URL");
        options.directory = "  timeout: 2s\n";
        options.kerberos = kerberos;
        start_gateway(options);
    }

    // The user the backend saw for one Sync of `user`, or curl's error and status.
    std::string backend_user_for(const std::string& user) const {
        const auto result = as_user(user, {"--write-out", "\n%{http_code}"});
        const auto all = reports(result);
        if (result.exit_code != 0 || all.size() != 1) return "failed: " + result.err + result.out;
        return all[0].value("user", "");
    }

    static std::size_t size_of(const std::string& var) { return read_file(lab().at(var)).size(); }
    static std::string since(const std::string& var, std::size_t offset) {
        return read_file(lab().at(var)).substr(offset);
    }
};

// dc1 shut down: its ports refuse, so the directory and krb5 move on to dc2 at once. Users easgate
// holds tickets for need no DC at all; a user new to easgate is looked up and delegated through dc2.
TEST_F(GatewayDcFailoverTest, WithDc1DownPhonesKeepSyncingAndNewUsersAreServedByDc2) {
    start_with_both_dcs();
    ASSERT_EQ(backend_user_for("alice"), "alice@EXAMPLE.TEST") << gateway_->log();

    const auto stopped = dc("stop", "dc1");
    ASSERT_EQ(stopped.exit_code, 0) << stopped.err;
    const auto dc2_before = size_of("LAB_DC2_KDC_LOG");

    for (int i = 0; i < 5; ++i) EXPECT_EQ(backend_user_for("alice"), "alice@EXAMPLE.TEST") << i;
    EXPECT_EQ(backend_user_for("bob"), "bob@EXAMPLE.TEST") << gateway_->log();
    EXPECT_EQ(backend_user_for("user11"), "user11@EXAMPLE.TEST") << gateway_->log();

    // dc2's KDC did bob's S4U2Self and S4U2Proxy; the log names dc1 as the server that failed.
    const auto kdc = since("LAB_DC2_KDC_LOG", dc2_before);
    EXPECT_EQ(count_of(kdc, "impersonating bob@EXAMPLE.TEST"), 1u) << kdc;
    EXPECT_EQ(count_of(kdc, "constrained delegation for bob@EXAMPLE.TEST"), 1u) << kdc;
    EXPECT_NE(gateway_->log().find("ldaps://dc1.example.test"), std::string::npos) << gateway_->log();
    // So do the metrics an admin alerts on, while users still get in.
    EXPECT_GE(metric("easgate_directory_server_failures_total{uri=\"" + lab().at("LAB_LDAPS_URL") + "\"}")
                  .value_or(0),
              1.0);
    EXPECT_EQ(
        metric("easgate_directory_server_failures_total{uri=\"" + lab().at("LAB_DC2_LDAPS_URL") + "\"}"),
        0.0);

    // dc1 back: its replication brought it what dc2 saw, and new users are served as before.
    const auto restarted = dc("start", "dc1");
    ASSERT_EQ(restarted.exit_code, 0) << restarted.err;
    EXPECT_EQ(backend_user_for("user12"), "user12@EXAMPLE.TEST") << gateway_->log();
}

// dc1 hung (frozen): it accepts connections and never answers. Phones whose users easgate holds
// tickets for keep syncing. The first LDAP or KDC exchange that goes unanswered for its timeout makes
// easgate ask each KDC on its own: dc1's is asked last from then on (krb5 would wait 10 s for it in
// every exchange), so users new to easgate are served through dc2 with krb5.conf as it is, and after
// a reload too. The first of them is served at the first try: its lookup waits for dc1's LDAP
// timeout, then for that check, before dc2's GSSAPI bind asks a KDC. Thawed, dc1 is asked first again.
TEST_F(GatewayDcFailoverTest, WithDc1HungItsKdcIsAskedLastAndNewUsersAreServedByDc2) {
    start_with_both_dcs("  timeout: 5s\n");
    ASSERT_EQ(backend_user_for("alice"), "alice@EXAMPLE.TEST") << gateway_->log();
    const auto admins_krb5_conf = read_file(krb5_conf());

    const auto frozen = dc("freeze", "dc1");
    ASSERT_EQ(frozen.exit_code, 0) << frozen.err;
    const auto started = std::chrono::steady_clock::now();
    std::vector<std::string> statuses;
    while (statuses.empty() || statuses.back() != "200") {
        const auto result = as_user("bob", {"--write-out", "%{http_code}", "--output", "/dev/null"});
        statuses.push_back(result.out);
        EXPECT_EQ(backend_user_for("alice"), "alice@EXAMPLE.TEST") << "a cached user while dc1 hangs";
        if (std::chrono::steady_clock::now() - started > std::chrono::seconds(90)) break;
    }
    const std::string seen = common::join(statuses, " ");
    std::cerr << "bob's requests while dc1 hangs: " << seen << " after "
              << std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - started)
                     .count()
              << " s\n";
    EXPECT_EQ(seen, "200") << gateway_->log();
    // The log names dc1's LDAPS and its KDC, and says what easgate does about the KDC.
    EXPECT_NE(gateway_->log().find("ldaps://dc1.example.test"), std::string::npos);
    const std::string asked_last = "KDC " + lab().at("LAB_DC_IP") +
                                   ":88 of EXAMPLE.TEST accepts connections "
                                   "and did not answer easgate's check within 2s: krb5 asks it last";
    EXPECT_NE(gateway_->log().find(asked_last), std::string::npos) << gateway_->log();
    EXPECT_EQ(metric("easgate_kdcs_asked_last"), 1.0);

    // Users new to easgate are served at the first try, krb5.conf untouched; dc2's KDC serves them.
    const auto dc2_before = size_of("LAB_DC2_KDC_LOG");
    EXPECT_EQ(backend_user_for("user13"), "user13@EXAMPLE.TEST") << gateway_->log();
    EXPECT_EQ(backend_user_for("user14"), "user14@EXAMPLE.TEST") << gateway_->log();
    EXPECT_EQ(count_of(since("LAB_DC2_KDC_LOG", dc2_before), "impersonating user14@EXAMPLE.TEST"), 1u);
    EXPECT_EQ(read_file(krb5_conf()), admins_krb5_conf);

    // A reload that makes a new delegation service (the kerberos section changed) keeps dc1 last.
    reload_with({{"  timeout: 5s\n", "  timeout: 6s\n"}});
    EXPECT_EQ(metric("easgate_kdcs_asked_last"), 1.0);
    EXPECT_EQ(backend_user_for("user16"), "user16@EXAMPLE.TEST") << "at the first try" << gateway_->log();

    // Thawed, dc1 answers easgate's next check (every 10 s) and krb5.conf's order is back.
    const auto thawed = dc("start", "dc1");
    ASSERT_EQ(thawed.exit_code, 0) << thawed.err;
    const std::string back = "KDC " + lab().at("LAB_DC_IP") + ":88 of EXAMPLE.TEST answers again";
    for (int i = 0; i < 30 && gateway_->log().find(back) == std::string::npos; ++i)
        std::this_thread::sleep_for(std::chrono::seconds(1));
    EXPECT_NE(gateway_->log().find(back), std::string::npos) << gateway_->log();
    EXPECT_EQ(metric("easgate_kdcs_asked_last"), 0.0);
    const auto dc1_before = size_of("LAB_KDC_LOG");
    EXPECT_EQ(backend_user_for("user15"), "user15@EXAMPLE.TEST") << gateway_->log();
    EXPECT_EQ(count_of(since("LAB_KDC_LOG", dc1_before), "impersonating user15@EXAMPLE.TEST"), 1u)
        << "dc1, first in krb5.conf, is asked first again";
}

}  // namespace
}  // namespace easgate::testing
