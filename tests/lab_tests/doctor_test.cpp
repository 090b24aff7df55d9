// `easgate doctor` against the lab: a healthy set-up passes end to end, and each KCD mistake an AD
// or Exchange administrator makes is named, with its remedy. Every change to the directory is
// undone in TearDown, failed test or not: the other lab tests share the domain.
#include <string>

#include "cdp_server.hpp"
#include "doctor_fixture.hpp"
#include "fault_relay.hpp"
#include "negotiate_less_backend.hpp"
#include "test_pki.hpp"

namespace easgate::testing {
namespace {

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
                                                          {"exchange", "connection to"},
                                                          {"exchange", "without credentials"},
                                                          {"exchange", " clock"},
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

// Each with its cause, and a remedy that says what to change where (not the generic fallback).
TEST_F(DoctorTest, UsersTheGatewayCantActForFailWithTheirCause) {
    const auto config = write_config();
    const auto dave = doctor(config, {"--user", "dave@example.test"});
    EXPECT_EQ(dave.exit_code, 1) << dave.output;
    EXPECT_EQ(dave.verdict("user", "dave@example.test"), "FAIL") << dave.output;
    struct Refused {
        const char* user;
        const char* cause;
        const char* remedy;
    };
    for (const auto& [user, cause, remedy] :
         {Refused{"dave", "not_delegable", "Set-ADAccountControl -AccountNotDelegated $false"},
          Refused{"carol", "disabled", "Enable-ADAccount"}, Refused{"erin", "locked_out", "Unlock-ADAccount"},
          Refused{"frank", "expired", "Set-ADAccountExpiration"},
          Refused{"grace", "protected_users", "Remove-ADGroupMember"}}) {
        const std::string upn = std::string(user) + "@example.test";
        const auto run = doctor(config, {"--user", upn});
        const auto text = run.text("user", upn);
        EXPECT_EQ(text.find(std::string(cause) + ": "), 0u) << run.output;
        EXPECT_NE(text.find("\nremedy: "), std::string::npos) << run.output;
        EXPECT_NE(text.substr(text.find("\nremedy: ")).find(remedy), std::string::npos) << run.output;
    }
}

// policy.use_exchange_device_lists: the lab's schema has Exchange's two list attributes and judy's
// lists are readable. With no list set anywhere, the doctor can't tell an unreadable attribute from
// none set, and warns with the right to grant.
TEST_F(DoctorTest, ExchangeDeviceListsAreFoundInTheSchemaAndReadable) {
    // Exchange's lists alone decide: no rule.
    const auto config = write_config({.sections = "policy:\n  use_exchange_device_lists: true\n"});
    const auto listed = doctor(config);
    for (const char* list : {"msExchMobileBlockedDeviceIDs", "msExchMobileAllowedDeviceIDs"})
        EXPECT_EQ(listed.verdict("policy", std::string(list) + " in the schema"), "PASS") << listed.output;
    for (const char* list : {"msExchMobileBlockedDeviceIDs", "msExchMobileAllowedDeviceIDs"}) {
        const std::string check = std::string(list) + " readable";
        EXPECT_EQ(listed.verdict("policy", check), "PASS") << listed.output;
        EXPECT_NE(listed.text("policy", check).find("CN=judy,"), std::string::npos) << listed.output;
    }

    const std::string judy = "CN=judy,CN=Users," + lab().at("LAB_BASE_DN");
    change_directory(
        "dn: " + judy +
            "\nchangetype: modify\ndelete: msExchMobileAllowedDeviceIDs\n-\n"
            "delete: msExchMobileBlockedDeviceIDs\n\n",
        "dn: " + judy +
            "\nchangetype: modify\nreplace: msExchMobileAllowedDeviceIDs\n"
            "msExchMobileAllowedDeviceIDs: JUDYPHONE01\n-\nreplace: msExchMobileBlockedDeviceIDs\n"
            "msExchMobileBlockedDeviceIDs: EASGATETEST01\n\n");
    const auto none = doctor(config);
    EXPECT_EQ(none.verdict("policy", "msExchMobileBlockedDeviceIDs readable"), "WARN") << none.output;
    EXPECT_NE(none.text("policy", "msExchMobileBlockedDeviceIDs readable")
                  .find("grant easgate's account Read on msExchMobileBlockedDeviceIDs"),
              std::string::npos)
        << none.output;
    EXPECT_EQ(none.verdict("policy", "msExchMobileBlockedDeviceIDs in the schema"), "PASS") << none.output;
}

// directory.base_dn is often the OU (here: the container) the users are in; Exchange's SPN and
// easgate's computer account are elsewhere in the domain, and the doctor looks for them there:
// before, it reported both missing (a false spn_missing, "no account EASGATE$ under …").
TEST_F(DoctorTest, TheSpnAndEasgatesAccountAreFoundOutsideABaseDnOfUsers) {
    const auto config = write_config();
    const std::string domain = lab().at("LAB_BASE_DN");
    auto yaml = read_file(config);
    const std::string line = "  base_dn: " + domain + "\n";
    ASSERT_NE(yaml.find(line), std::string::npos) << yaml;
    yaml.replace(yaml.find(line), line.size(), "  base_dn: CN=Users," + domain + "\n");
    write_file(config, yaml);
    const auto run = doctor(config, {"--user", "alice@example.test"});
    for (const char* check : {"target SPN", "easgate's SPN", "delegation to", "protocol transition"})
        EXPECT_EQ(run.verdict("delegation", check), "PASS") << check << "\n" << run.output;
    EXPECT_EQ(run.verdict("kerberos", "keytab kvno"), "PASS") << run.output;
    EXPECT_EQ(run.verdict("user", "alice@example.test"), "PASS") << run.output;
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
    EXPECT_EQ(text.rfind("spn_duplicated: ", 0), 0u) << text;  // the cause word the log and metrics use
}

// An account made by hand has no SPN, and the KDC then refuses it S4U2Self.
TEST_F(DoctorTest, EasgatesAccountWithoutAnSpnFails) {
    EXPECT_EQ(doctor(write_config()).verdict("delegation", "easgate's SPN"), "PASS");
    const std::string dn = computer_dn("EASGATE");
    const std::string host = lab().at("LAB_GW_HOST");
    change_directory("dn: " + dn + "\nchangetype: modify\ndelete: servicePrincipalName\n\n",
                     "dn: " + dn +
                         "\nchangetype: modify\nadd: servicePrincipalName\nservicePrincipalName: HTTP/" +
                         host + "\nservicePrincipalName: host/" + host + "\n\n",
                     true);
    const auto run = doctor(write_config());
    EXPECT_EQ(run.exit_code, 1) << run.output;
    EXPECT_EQ(run.verdict("delegation", "easgate's SPN"), "FAIL") << run.output;
    const auto text = run.text("delegation", "easgate's SPN");
    EXPECT_EQ(text.rfind("service_without_spn: EASGATE$ has no servicePrincipalName", 0), 0u) << text;
    EXPECT_NE(text.find("setspn -S host/<easgate's host name> EASGATE$"), std::string::npos) << text;
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
    EXPECT_NE(text.find("Trust this computer for delegation"), std::string::npos) << text;
    EXPECT_NE(text.find("Set-ADComputer 'EASGATE-NODELEG' -Add"), std::string::npos) << text;
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
    EXPECT_NE(text.find("delegation_not_allowed: protocol transition is off"), std::string::npos) << text;
    EXPECT_NE(text.find("Use any authentication protocol"), std::string::npos) << text;
    EXPECT_EQ(run.verdict("delegation", "S4U2Self and S4U2Proxy"), "FAIL") << run.output;
}

TEST_F(DoctorTest, BackendWithoutNegotiateFailsWithTheIisSetting) {
    const NegotiateLessBackend backend(work_);
    const auto run =
        doctor(write_config({.upstream_server = backend.url()}), {"--user", "alice@example.test"});
    EXPECT_EQ(run.exit_code, 1) << run.output;
    EXPECT_EQ(run.verdict("exchange", "Exchange accepts the token"), "FAIL") << run.output;
    const auto text = run.text("exchange", "Exchange accepts the token");
    EXPECT_NE(text.find("401, WWW-Authenticate offers NTLM, Basic"), std::string::npos) << text;
    EXPECT_NE(text.find("add Negotiate to Windows Authentication on Microsoft-Server-ActiveSync"),
              std::string::npos)
        << text;
}

// Before any user: Exchange's first answer to a device offers no Negotiate, so easgate would never
// send its token. Found without --user.
TEST_F(DoctorTest, BackendWithoutNegotiateFailsBeforeAnyUser) {
    const NegotiateLessBackend backend(work_);
    const auto run = doctor(write_config({.upstream_server = backend.url()}));
    EXPECT_EQ(run.exit_code, 1) << run.output;
    EXPECT_EQ(run.verdict("exchange", "without credentials"), "FAIL") << run.output;
    const auto text = run.text("exchange", "without credentials");
    EXPECT_NE(
        text.find("negotiate_not_offered: OPTIONS /Microsoft-Server-ActiveSync: 401 offering NTLM, Basic"),
        std::string::npos)
        << text;
    EXPECT_NE(text.find("Set-ActiveSyncVirtualDirectory"), std::string::npos) << text;
}

// An Exchange whose clock runs 7 minutes ahead (its Date header): Kerberos will refuse every ticket
// easgate delegates, which the doctor says before any device is refused.
TEST_F(DoctorTest, AnExchangeClockMoreThanFiveMinutesOffFails) {
    CdpServer skewed;
    skewed.answer_with("Microsoft-Server-ActiveSync",
                       iis_refusal("Negotiate, NTLM", std::chrono::seconds(7 * 60 + 30)));
    const auto run =
        doctor(write_config({.upstream_server = "http://127.0.0.1:" + std::to_string(skewed.port())}));
    EXPECT_EQ(run.exit_code, 1) << run.output;
    EXPECT_EQ(run.verdict("exchange", "without credentials"), "PASS") << run.output;
    EXPECT_EQ(run.verdict("exchange", " clock"), "FAIL") << run.output;
    const auto text = run.text("exchange", " clock");
    EXPECT_NE(text.find("clock_skew: Exchange's clock is 7 min "), std::string::npos) << text;
    EXPECT_NE(text.find("ahead of this host's"), std::string::npos) << text;
    EXPECT_NE(text.find("w32tm /resync"), std::string::npos) << text;
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

// An Exchange server with the SPN's old key: the doctor reads its KRB-ERROR and names the key.
TEST_F(DoctorTest, AStaleKeyOnExchangeIsNamed) {
    const auto run = doctor(write_config({.backend_var = "LAB_MAIL_STALE_KEY_BASE_URL"}),
                            {"--user", "alice@example.test"});
    EXPECT_EQ(run.exit_code, 1) << run.output;
    EXPECT_EQ(run.verdict("exchange", "Exchange accepts the token"), "FAIL") << run.output;
    EXPECT_NE(run.text("exchange", "Exchange accepts the token")
                  .find("KRB_AP_ERR_BAD_INTEGRITY (31): Exchange could not decrypt the ticket"),
              std::string::npos)
        << run.output;
}

// A load balancer in front of Exchange that sends requests without credentials to its sign-in page:
// easgate follows no redirect, and its token never reaches IIS.
TEST_F(DoctorTest, AnExchangeUrlThatRedirectsWarns) {
    CdpServer balancer;
    balancer.answer_with(
        "Microsoft-Server-ActiveSync",
        "HTTP/1.1 302 Found\r\nLocation: https://lb.example.test/login\r\nContent-Length: 0\r\n\r\n");
    const auto run =
        doctor(write_config({.upstream_server = "http://127.0.0.1:" + std::to_string(balancer.port())}));
    EXPECT_EQ(run.verdict("exchange", "without credentials"), "WARN") << run.output;
    const auto text = run.text("exchange", "without credentials");
    EXPECT_NE(text.find("302: not the 401 of Windows Authentication"), std::string::npos) << text;
    EXPECT_NE(text.find("it redirects to https://lb.example.test/login"), std::string::npos) << text;
}

}  // namespace
}  // namespace easgate::testing
