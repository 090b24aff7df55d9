// `easgate doctor` against the lab: a healthy set-up passes end to end, and each KCD mistake an AD
// or Exchange administrator makes is named, with its remedy. Every change to the directory is
// undone in TearDown, failed test or not: the other lab tests share the domain.
#include <gtest/gtest.h>
#include <krb5/krb5.h>

#include <cstdlib>
#include <filesystem>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "child_process.hpp"
#include "fault_relay.hpp"
#include "lab_administration.hpp"
#include "lab_environment.hpp"
#include "test_pki.hpp"

namespace easgate::testing {
namespace {

using nlohmann::json;

struct DoctorRun {
    int exit_code = -1;
    json report;
    std::string output;  // for failure messages

    // The finding of area whose check contains `check`; null when there is none.
    json finding(const std::string& area, const std::string& check) const {
        for (const auto& f : report.value("checks", json::array()))
            if (f["area"] == area && f["check"].get<std::string>().find(check) != std::string::npos) return f;
        return nullptr;
    }
    std::string verdict(const std::string& area, const std::string& check) const {
        const auto f = finding(area, check);
        return f.is_null() ? "(no such check)" : f["verdict"].get<std::string>();
    }
    std::string text(const std::string& area, const std::string& check) const {
        const auto f = finding(area, check);
        return f.is_null() ? ""
                           : f["found"].get<std::string>() + "\nremedy: " + f["remedy"].get<std::string>();
    }
};

// What a test changes in the lab's configuration.
struct DoctorConfig {
    std::string principal_var = "LAB_EASGATE_PRINCIPAL";  // easgate's account, from lab.env
    std::string keytab_var = "LAB_EASGATE_KEYTAB";
    std::string keytab_file;                        // a keytab the test made, in place of keytab_var's
    std::string backend_var = "LAB_MAIL_BASE_URL";  // the Exchange stand-in
    std::string upstream_server;                    // replaces it when set
    std::string upstream;                           // more YAML lines in the upstream's entry
    std::string directory_uris;                     // dc1's LDAPS URL when empty
    std::string krb5_conf;                          // the lab's when empty
    std::string kerberos;                           // more YAML lines in the kerberos section
};

class DoctorTest : public ::testing::Test {
protected:
    void SetUp() override { work_ = make_temp_dir("doctor"); }

    void TearDown() override {
        for (auto undo = undo_.rbegin(); undo != undo_.rend(); ++undo) (*undo)();
        std::filesystem::remove_all(work_);
    }

    static const LabEnvironment& lab() { return LabEnvironment::get(); }

    // The configuration `easgate run` would have on the lab, with what a test changes.
    std::string write_config(const DoctorConfig& options = {}) const {
        std::string upstream =
            lab().upstream_yaml("exchange", options.backend_var, "per_request", options.upstream);
        if (!options.upstream_server.empty())
            upstream.replace(upstream.find(lab().at(options.backend_var)),
                             lab().at(options.backend_var).size(), options.upstream_server);
        std::string kerberos = lab().kerberos_yaml(options.principal_var, options.keytab_var,
                                                   options.krb5_conf, options.kerberos);
        if (!options.keytab_file.empty())
            kerberos.replace(kerberos.find(lab().at(options.keytab_var)), lab().at(options.keytab_var).size(),
                             options.keytab_file);
        const std::string yaml =
            "listeners:\n" + lab().listener_yaml(free_tcp_port(), lab().at("LAB_CA_FILE")) + "upstreams:\n" +
            upstream + lab().directory_yaml(options.directory_uris) + kerberos;
        const auto path = work_ / "easgate.yaml";
        write_file(path, yaml);
        return path.string();
    }

    static DoctorRun doctor(const std::string& config, const std::vector<std::string>& extra = {},
                            const std::vector<std::string>& prefix = {}) {
        std::vector<std::string> argv = prefix;
        argv.insert(argv.end(), {EASGATE_BINARY, "doctor", "--config", config, "--json"});
        argv.insert(argv.end(), extra.begin(), extra.end());
        const auto result = run_command(argv, std::chrono::seconds(120));
        DoctorRun run{result.exit_code, json::parse(result.out, nullptr, false), result.out + result.err};
        EXPECT_TRUE(run.report.is_object()) << run.output;
        return run;
    }

    // Applies a directory change now and its undo at TearDown (registered first, so that a change
    // that half-happened is undone too).
    void change_directory(const std::string& ldif, const std::string& undo_ldif,
                          bool past_samba_checks = false) {
        const auto apply = [past_samba_checks](const std::string& change) {
            return past_samba_checks ? modify_domain_partition(change)
                                     : as_administrator({"ldapmodify"}, change);
        };
        undo_.push_back([apply, undo_ldif] {
            const auto undone = apply(undo_ldif);
            EXPECT_EQ(undone.exit_code, 0) << "the lab is left changed: " << undo_ldif << undone.err;
        });
        const auto changed = apply(ldif);
        ASSERT_EQ(changed.exit_code, 0) << changed.err << changed.out;
    }

    static std::string computer_dn(const std::string& name) {
        return "CN=" + name + ",CN=Computers," + lab().at("LAB_BASE_DN");
    }
    static std::string modify(const std::string& dn, const std::string& operation,
                              const std::string& attribute, const std::string& value) {
        return "dn: " + dn + "\nchangetype: modify\n" + operation + ": " + attribute + "\n" + attribute +
               ": " + value + "\n\n";
    }

    std::filesystem::path work_;
    std::vector<std::function<void()>> undo_;
};

TEST_F(DoctorTest, HealthySetUpPassesEndToEndForAlice) {
    const auto run = doctor(write_config(), {"--user", "alice@example.test"});
    EXPECT_EQ(run.exit_code, 0) << run.output;
    EXPECT_TRUE(run.report.value("ok", false)) << run.output;
    for (const auto& [area, check] :
         std::vector<std::pair<std::string, std::string>>{{"kerberos", "keytab principal"},
                                                          {"kerberos", "keytab kvno"},
                                                          {"kerberos", "TGT"},
                                                          {"kerberos", "clock skew"},
                                                          {"directory", "bind"},
                                                          {"delegation", "target SPN"},
                                                          {"delegation", "delegation to"},
                                                          {"delegation", "protocol transition"},
                                                          {"user", "alice@example.test"},
                                                          {"delegation", "S4U2Self and S4U2Proxy"},
                                                          {"exchange", "Exchange accepts the token"}}) {
        EXPECT_EQ(run.verdict(area, check), "PASS") << area << "/" << check << "\n" << run.output;
    }
    EXPECT_NE(run.text("exchange", "Exchange accepts").find("alice@EXAMPLE.TEST: 200"), std::string::npos);
}

// krb5.conf lists both DCs and two KDCs that serve nobody: one hung (accepts, never answers), one
// with nothing listening. The TGT check passes (krb5 asks dc1 first); each KDC asked on its own
// shows the two that would cost users time.
TEST_F(DoctorTest, EachKdcIsAskedOnItsOwnAndAHungOrDeadOneWarns) {
    const FaultRelay hung("127.0.0.22", 0, lab().at("LAB_DC_IP"), 88, FaultRelay::Mode::silent);
    const std::string hung_kdc = "127.0.0.22:" + std::to_string(hung.port());
    const std::string dc1 = lab().at("LAB_DC_IP") + ":88", dc2 = "tcp/" + lab().at("LAB_DC2_IP") + ":88";
    const auto krb5_conf = work_ / "krb5.conf";
    write_file(krb5_conf,
               lab().krb5_conf_with_kdcs({dc1, hung_kdc, "127.0.0.9:1", "[::1]:9", "127.0.0.9:0", dc2}));
    const auto run = doctor(write_config({.krb5_conf = krb5_conf.string(), .kerberos = "  timeout: 2s\n"}));

    EXPECT_EQ(run.verdict("kerberos", "TGT"), "PASS") << run.output;
    EXPECT_EQ(run.verdict("kerberos", "KDC " + dc1), "PASS") << run.output;
    EXPECT_EQ(run.verdict("kerberos", "KDC " + dc2), "PASS") << run.output;
    EXPECT_EQ(run.verdict("kerberos", "KDC " + hung_kdc), "WARN") << run.output;
    EXPECT_NE(
        run.text("kerberos", "KDC " + hung_kdc).find("accepted the connection and did not answer within 2s"),
        std::string::npos)
        << run.output;
    EXPECT_NE(run.text("kerberos", "KDC " + hung_kdc).find("costs 10 s in every KDC exchange"),
              std::string::npos)
        << run.output;
    EXPECT_EQ(run.verdict("kerberos", "KDC 127.0.0.9:1"), "WARN") << run.output;
    EXPECT_NE(run.text("kerberos", "KDC 127.0.0.9:1").find("no TCP connection to 127.0.0.9:1"),
              std::string::npos)
        << run.output;
    EXPECT_NE(run.text("kerberos", "KDC 127.0.0.9:1")
                  .find("take the line \"kdc = 127.0.0.9:1\" out of " + krb5_conf.string()),
              std::string::npos)
        << run.output;
    EXPECT_EQ(run.verdict("kerberos", "KDC [::1]:9"), "WARN") << run.output;
    EXPECT_NE(run.text("kerberos", "KDC [::1]:9").find("no TCP connection to ::1:9"), std::string::npos)
        << run.output;
    EXPECT_EQ(run.verdict("kerberos", "KDC 127.0.0.9:0"), "SKIP") << run.output;
    EXPECT_NE(run.text("kerberos", "KDC 127.0.0.9:0").find("port 0 is out of range"), std::string::npos)
        << run.output;
    EXPECT_GE(hung.connections(), 1u);
}

// A DC down while another serves is one DC fewer, which easgate rides out: WARN, and the doctor
// passes. With no DC serving, it fails.
TEST_F(DoctorTest, ADcDownWhileAnotherServesWarnsAndNoneServingFails) {
    const std::string down = "ldaps://127.0.0.9:1", dc2 = lab().at("LAB_DC2_LDAPS_URL");
    // dc2 must hold what earlier tests undid on dc1 (EASGATE$'s protocol transition, say).
    const auto synced = replicate_dcs_now();
    ASSERT_EQ(synced.exit_code, 0) << synced.err;
    const auto one_down = doctor(write_config({.directory_uris = down + ", " + dc2}));
    EXPECT_EQ(one_down.verdict("directory", down + " reachable"), "WARN") << one_down.output;
    EXPECT_NE(one_down.text("directory", down + " reachable")
                  .find("easgate looks users up on " + dc2 + " meanwhile"),
              std::string::npos)
        << one_down.output;
    EXPECT_EQ(one_down.verdict("directory", dc2 + " bind"), "PASS") << one_down.output;
    EXPECT_TRUE(one_down.report.value("ok", false)) << one_down.output;
    EXPECT_EQ(one_down.exit_code, 0) << one_down.output;

    const auto none = doctor(write_config({.directory_uris = down}));
    EXPECT_EQ(none.verdict("directory", down + " reachable"), "FAIL") << none.output;
    EXPECT_FALSE(none.report.value("ok", true)) << none.output;
}

TEST_F(DoctorTest, UsersTheGatewayCantActForFailWithTheirCause) {
    const auto config = write_config();
    const auto dave = doctor(config, {"--user", "dave@example.test"});
    EXPECT_EQ(dave.exit_code, 1) << dave.output;
    EXPECT_EQ(dave.verdict("user", "dave@example.test"), "FAIL") << dave.output;
    EXPECT_NE(dave.text("user", "dave@example.test").find("not_delegable"), std::string::npos) << dave.output;
    const auto carol = doctor(config, {"--user", "carol@example.test"});
    EXPECT_NE(carol.text("user", "carol@example.test").find("disabled"), std::string::npos) << carol.output;
    const auto grace = doctor(config, {"--user", "grace@example.test"});
    EXPECT_NE(grace.text("user", "grace@example.test").find("protected_users"), std::string::npos)
        << grace.output;
}

TEST_F(DoctorTest, MissingTargetSpnFailsWithTheSetspnCommand) {
    const std::string spn = lab().at("LAB_MAIL_SPN");
    change_directory(modify(computer_dn("MAIL"), "delete", "servicePrincipalName", spn),
                     modify(computer_dn("MAIL"), "add", "servicePrincipalName", spn));
    const auto run = doctor(write_config());
    EXPECT_EQ(run.exit_code, 1) << run.output;
    EXPECT_EQ(run.verdict("delegation", "target SPN"), "FAIL") << run.output;
    EXPECT_NE(run.text("delegation", "target SPN").find("spn_missing"), std::string::npos) << run.output;
    EXPECT_NE(run.text("delegation", "target SPN").find("setspn -S " + spn + " MAIL$"), std::string::npos)
        << run.output;
}

// AD's sPNMappings: HTTP/<host> is found on the account holding host/<host>, as the KDC does (an
// Exchange server reached by its own name): not a missing SPN, and alice gets through.
TEST_F(DoctorTest, HostSpnServesHttpThroughSpnMappings) {
    const std::string spn = lab().at("LAB_MAIL_SPN");
    const std::string host_spn = "host/" + lab().at("LAB_MAIL_HOST");
    const auto swap = [](const std::string& from, const std::string& to) {
        return "dn: " + computer_dn("MAIL") + "\nchangetype: modify\ndelete: servicePrincipalName\n" +
               "servicePrincipalName: " + from +
               "\n-\nadd: servicePrincipalName\nservicePrincipalName: " + to + "\n\n";
    };
    change_directory(swap(spn, host_spn), swap(host_spn, spn));
    const auto run = doctor(write_config(), {"--user", "alice@example.test"});
    EXPECT_EQ(run.exit_code, 0) << run.output;
    EXPECT_EQ(run.verdict("delegation", "target SPN"), "PASS") << run.output;
    EXPECT_NE(run.text("delegation", "target SPN").find("sPNMappings"), std::string::npos) << run.output;
    EXPECT_EQ(run.verdict("exchange", "Exchange accepts the token"), "PASS") << run.output;
}

TEST_F(DoctorTest, SpnOnTwoAccountsFailsNamingBoth) {
    const std::string spn = lab().at("LAB_MAIL_SPN");
    change_directory(modify(computer_dn("EASGATE-NODELEG"), "add", "servicePrincipalName", spn),
                     modify(computer_dn("EASGATE-NODELEG"), "delete", "servicePrincipalName", spn), true);
    const auto run = doctor(write_config());
    EXPECT_EQ(run.exit_code, 1) << run.output;
    EXPECT_EQ(run.verdict("delegation", "target SPN"), "FAIL") << run.output;
    const auto text = run.text("delegation", "target SPN");
    EXPECT_NE(text.find("MAIL$"), std::string::npos) << text;
    EXPECT_NE(text.find("EASGATE-NODELEG$"), std::string::npos) << text;
    EXPECT_NE(text.find("setspn -D " + spn), std::string::npos) << text;
}

TEST_F(DoctorTest, AccountWithoutDelegationRightsFailsWithTheDelegationTab) {
    const auto run =
        doctor(write_config({.principal_var = "LAB_NODELEG_PRINCIPAL", .keytab_var = "LAB_NODELEG_KEYTAB"}),
               {"--user", "alice@example.test"});
    EXPECT_EQ(run.exit_code, 1) << run.output;
    EXPECT_EQ(run.verdict("delegation", "delegation to"), "FAIL") << run.output;
    const auto text = run.text("delegation", "delegation to");
    EXPECT_NE(text.find("delegation_not_allowed"), std::string::npos) << text;
    EXPECT_NE(text.find("Delegation tab"), std::string::npos) << text;
    EXPECT_NE(text.find("msDS-AllowedToDelegateTo"), std::string::npos) << text;
    // The KDC agrees, and the doctor says what it answered.
    EXPECT_NE(run.text("delegation", "S4U2Self and S4U2Proxy").find("KDC_ERR_BADOPTION"), std::string::npos)
        << run.output;
}

TEST_F(DoctorTest, ProtocolTransitionOffFails) {
    const std::string with_transition =
        "16781312";  // WORKSTATION_TRUST_ACCOUNT | TRUSTED_TO_AUTH_FOR_DELEGATION
    change_directory(modify(computer_dn("EASGATE"), "replace", "userAccountControl", "4096"),
                     modify(computer_dn("EASGATE"), "replace", "userAccountControl", with_transition));
    const auto run = doctor(write_config(), {"--user", "alice@example.test"});
    EXPECT_EQ(run.exit_code, 1) << run.output;
    EXPECT_EQ(run.verdict("delegation", "protocol transition"), "FAIL") << run.output;
    const auto text = run.text("delegation", "protocol transition");
    EXPECT_NE(text.find("protocol transition off"), std::string::npos) << text;
    EXPECT_NE(text.find("Use any authentication protocol"), std::string::npos) << text;
    EXPECT_EQ(run.verdict("delegation", "S4U2Self and S4U2Proxy"), "FAIL") << run.output;
}

TEST_F(DoctorTest, KeytabOfAnotherAccountFailsListingWhatItHolds) {
    const auto run = doctor(write_config({.keytab_var = "LAB_NODELEG_KEYTAB"}));
    EXPECT_EQ(run.exit_code, 1) << run.output;
    EXPECT_EQ(run.verdict("kerberos", "keytab principal"), "FAIL") << run.output;
    EXPECT_NE(run.text("kerberos", "keytab principal").find("EASGATE-NODELEG$@EXAMPLE.TEST"),
              std::string::npos)
        << run.output;
}

// faketime's clock for the doctor.
std::vector<std::string> under_faketime(const std::string& offset) { return {"faketime", "-f", offset}; }

TEST_F(DoctorTest, ClockTenMinutesAheadFailsAndTwoMinutesWarns) {
#if defined(EASGATE_TEST_SANITIZED)
    // libfaketime's clock_gettime and clang 14's ASan runtime wait on each other at start-up: the
    // process hangs before main. The Release build runs this test.
    GTEST_SKIP() << "libfaketime hangs a clang ASan build at start-up";
#endif
    const auto config = write_config();
    const auto ahead = doctor(config, {}, under_faketime("+10m"));
    EXPECT_EQ(ahead.exit_code, 1) << ahead.output;
    EXPECT_EQ(ahead.verdict("kerberos", "clock skew"), "FAIL") << ahead.output;
    EXPECT_NE(ahead.text("kerberos", "clock skew").find("clock_skew"), std::string::npos) << ahead.output;
    const auto slightly = doctor(config, {}, under_faketime("+2m"));
    EXPECT_EQ(slightly.verdict("kerberos", "clock skew"), "WARN") << slightly.output;
}

// A copy of the keytab whose keys claim the version before: what a keytab exported before the
// account's password last changed looks like.
void write_stale_copy(const std::string& keytab, const std::filesystem::path& copy) {
    krb5_context context = nullptr;
    ASSERT_EQ(krb5_init_context(&context), 0);
    krb5_keytab in = nullptr;
    krb5_keytab out = nullptr;
    krb5_kt_cursor cursor = nullptr;
    ASSERT_EQ(krb5_kt_resolve(context, keytab.c_str(), &in), 0);
    ASSERT_EQ(krb5_kt_resolve(context, ("FILE:" + copy.string()).c_str(), &out), 0);
    ASSERT_EQ(krb5_kt_start_seq_get(context, in, &cursor), 0);
    krb5_keytab_entry entry;
    while (krb5_kt_next_entry(context, in, &entry, &cursor) == 0) {
        --entry.vno;
        EXPECT_EQ(krb5_kt_add_entry(context, out, &entry), 0);
        krb5_free_keytab_entry_contents(context, &entry);
    }
    krb5_kt_end_seq_get(context, in, &cursor);
    krb5_kt_close(context, in);
    krb5_kt_close(context, out);
    krb5_free_context(context);
}

TEST_F(DoctorTest, KeytabOlderThanTheAccountsKeyFailsAsStale) {
    const auto stale = work_ / "stale.keytab";
    write_stale_copy(lab().at("LAB_EASGATE_KEYTAB"), stale);
    const auto run = doctor(write_config({.keytab_file = stale.string()}));
    EXPECT_EQ(run.exit_code, 1) << run.output;
    EXPECT_EQ(run.verdict("kerberos", "keytab kvno"), "FAIL") << run.output;
    const auto text = run.text("kerberos", "keytab kvno");
    EXPECT_NE(text.find("keytab_stale"), std::string::npos) << text;
    EXPECT_NE(text.find("ktpass"), std::string::npos) << text;
}

TEST_F(DoctorTest, KeytabOthersCanReadWarnsWithChmod) {
    const auto copy = work_ / "readable.keytab";
    std::filesystem::copy_file(lab().at("LAB_EASGATE_KEYTAB"), copy);
    std::filesystem::permissions(copy, std::filesystem::perms::others_read,
                                 std::filesystem::perm_options::add);
    const auto run = doctor(write_config({.keytab_file = copy.string()}));
    EXPECT_EQ(run.exit_code, 0) << run.output;  // a warning, not a failure
    EXPECT_EQ(run.verdict("kerberos", "keytab file"), "WARN") << run.output;
    EXPECT_NE(run.text("kerberos", "keytab file").find("chmod 0640 " + copy.string()), std::string::npos)
        << run.output;
}

// IIS with Windows Authentication offering NTLM only (Negotiate taken out of its providers) and
// Basic: every Kerberos token is answered 401.
constexpr const char* ntlm_only_backend = R"(
import http.server, sys
class Backend(http.server.BaseHTTPRequestHandler):
    def answer(self):
        self.send_response(401)
        self.send_header('WWW-Authenticate', 'NTLM')
        self.send_header('WWW-Authenticate', 'Basic realm="mail.example.test"')
        self.send_header('Content-Length', '0')
        self.end_headers()
    do_GET = do_POST = do_OPTIONS = answer
    def log_message(self, *args):
        pass
server = http.server.HTTPServer(('127.0.0.1', int(sys.argv[1])), Backend)
print('ready', flush=True)
server.serve_forever()
)";

TEST_F(DoctorTest, BackendWithoutNegotiateFailsWithTheIisSetting) {
    const auto port = free_tcp_port();
    ChildProcess backend({"python3", "-c", ntlm_only_backend, std::to_string(port)}, work_ / "backend.out",
                         work_ / "backend.err");
    ASSERT_FALSE(wait_for_text(work_ / "backend.out", "ready").empty()) << read_file(work_ / "backend.err");
    const auto run = doctor(write_config({.upstream_server = "http://127.0.0.1:" + std::to_string(port)}),
                            {"--user", "alice@example.test"});
    EXPECT_EQ(run.exit_code, 1) << run.output;
    EXPECT_EQ(run.verdict("exchange", "Exchange accepts the token"), "FAIL") << run.output;
    const auto text = run.text("exchange", "Exchange accepts the token");
    EXPECT_NE(text.find("401, WWW-Authenticate offers NTLM, Basic"), std::string::npos) << text;
    EXPECT_NE(text.find("add Negotiate to Windows Authentication on Microsoft-Server-ActiveSync"),
              std::string::npos)
        << text;
}

// Exchange with Extended Protection (the lab's port 8445): the doctor's token is bound to its TLS
// connection and accepted; unbound, it is refused although Negotiate is offered.
TEST_F(DoctorTest, ExtendedProtectionAcceptsTheBoundTokenAndRefusesAnUnboundOne) {
    const auto bound = doctor(write_config({.backend_var = "LAB_MAIL_EXTENDED_PROTECTION_BASE_URL"}),
                              {"--user", "alice@example.test"});
    EXPECT_EQ(bound.exit_code, 0) << bound.output;
    EXPECT_EQ(bound.verdict("exchange", "Exchange accepts the token"), "PASS") << bound.output;
    const auto unbound = doctor(write_config({.backend_var = "LAB_MAIL_EXTENDED_PROTECTION_BASE_URL",
                                              .upstream = "    channel_binding: off\n"}),
                                {"--user", "alice@example.test"});
    EXPECT_EQ(unbound.exit_code, 1) << unbound.output;
    const auto text = unbound.text("exchange", "Exchange accepts the token");
    EXPECT_NE(text.find("the token was refused"), std::string::npos) << text;
    EXPECT_NE(text.find("401, WWW-Authenticate offers Negotiate"), std::string::npos) << text;
    EXPECT_NE(text.find("channel_binding"), std::string::npos) << text;
}

}  // namespace
}  // namespace easgate::testing
