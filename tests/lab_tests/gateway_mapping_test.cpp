// identity.mapping and identity.strong_mapping (Microsoft KB5014754) against the lab's real
// directory: certificates from the test CA carrying SIDs, emails and explicit altSecurityIdentities
// mappings that the test writes to bob's account as an administrator would.
#include <gtest/gtest.h>
#include <openssl/evp.h>

#include <chrono>
#include <string>
#include <thread>

#include "child_process.hpp"
#include "easgate/directory/certificate_mapping.hpp"
#include "easgate/directory/security_identifier.hpp"
#include "easgate/identity/certificate_identity.hpp"
#include "gateway_delegation_fixture.hpp"
#include "lab_administration.hpp"
#include "raw_device.hpp"

namespace easgate::testing {
namespace {

class GatewayMappingTest : public GatewayDelegationTest {
protected:
    void TearDown() override {
        set_bobs_alt_security_identities({});
        GatewayDelegationTest::TearDown();
    }

    static std::string bob_dn() { return "CN=bob,CN=Users," + lab().at("LAB_BASE_DN"); }

    static std::string sid_of(const std::string& user) {
        const auto found = as_administrator({"ldapsearch", "-LLL", "-o", "ldif-wrap=no", "-b",
                                             "CN=" + user + ",CN=Users," + lab().at("LAB_BASE_DN"), "-s",
                                             "base", "objectSid"});
        EXPECT_EQ(found.exit_code, 0) << found.err;
        const auto at = found.out.find("objectSid:: ");
        if (at == std::string::npos) return "(no objectSid: " + found.out + ")";
        const auto text = found.out.substr(at + 12, found.out.find('\n', at) - at - 12);
        std::string bytes(text.size(), '\0');
        const int length = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(bytes.data()),
                                           reinterpret_cast<const unsigned char*>(text.data()),
                                           static_cast<int>(text.size()));
        bytes.resize(static_cast<std::size_t>(length) - std::count(text.end() - 2, text.end(), '='));
        return directory::sid_text(bytes).value_or("(not a SID)");
    }

    static void set_bobs_alt_security_identities(const std::vector<std::string>& values) {
        set_alt_security_identities(bob_dn(), values);
    }
    static void set_alt_security_identities(const std::string& dn, const std::vector<std::string>& values) {
        std::string ldif = "dn: " + dn + "\nchangetype: modify\nreplace: altSecurityIdentities\n";
        for (const auto& value : values) ldif += "altSecurityIdentities: " + value + "\n";
        const auto changed = as_administrator({"ldapmodify"}, ldif + "\n");
        ASSERT_EQ(changed.exit_code, 0) << changed.err << changed.out;
    }

    IssuedCert issue(std::optional<std::string> upn, std::vector<std::string> emails = {},
                     std::optional<std::string> sid = std::nullopt) const {
        CertSpec spec;
        spec.common_name = "device";
        spec.upn = std::move(upn);
        spec.emails = std::move(emails);
        spec.sid = std::move(sid);
        return test_ca_->issue(spec);
    }

    // How often the log says needle, once it says it `expected` times or 5 s passed.
    std::size_t times_logged(const std::string& needle, std::size_t expected) const {
        for (int wait = 0; wait < 50 && count_of(gateway_->log(), needle) < expected; ++wait)
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
        return count_of(gateway_->log(), needle);
    }

    // The user the Kerberos backend saw, or the status easgate answered instead.
    std::string who_gets_in(const IssuedCert& certificate) {
        const auto [cert, key] = certificate.write(work_, "mapped-device");
        const auto result =
            curl_as_device(url(), lab().at("LAB_CA_FILE"), cert, key, {"--write-out", "\n%{http_code}"});
        const auto status = result.out.substr(result.out.rfind('\n') + 1);
        if (status != "200") return status;
        const auto answers = reports(result);
        return answers.empty() ? "(no answer)" : answers.front().value("user", "(no user)");
    }
};

TEST_F(GatewayMappingTest, TheSidExtensionFindsItsAccountWhateverTheUpnSays) {
    GatewayOptions options;
    options.sections = "identity:\n  mapping: [sid, upn]\n";
    start_gateway(options);
    EXPECT_EQ(who_gets_in(issue("nobody@example.test", {}, sid_of("bob"))), "bob@EXAMPLE.TEST");
    EXPECT_EQ(who_gets_in(issue("alice@example.test")), "alice@EXAMPLE.TEST");  // no SID: the UPN's turn
    // The access log names the certificate's user and the account it ran as.
    for (const auto& [user, account] : {std::pair("nobody", "bob"), std::pair("alice", "alice")}) {
        const std::string needle =
            " " + std::string(user) + "@example.test \"GET /Microsoft-Server-ActiveSync\" 200 ";
        const auto line = line_holding(gateway_->wait_for_log(needle), needle);
        EXPECT_NE(line.find(" account=" + std::string(account) + "@example.test "), std::string::npos)
            << needle << ": " << line;
    }
}

// A certificate may name a UPN that is not its account's (an AD CS template that lets the enrollee
// write the SAN: the CA adds the enrollee's own SID, and the SID decides). Exchange connections are
// the account's: one authenticated for alice (IIS authPersistNonNTLM, per_connection) must never
// carry the request of bob's certificate that claims alice's UPN, nor the other way round.
TEST_F(GatewayMappingTest, ExchangeConnectionsAreTheMappedAccountsNotTheCertificateUpns) {
    GatewayOptions options;
    options.backend_var = "LAB_MAIL_CONN_BOUND_BASE_URL";
    options.authenticate = "per_connection";
    options.sections = "identity:\n  mapping: [sid, upn]\nworkers: 1\n";
    start_gateway(options);
    const auto alices = issue("alice@example.test", {}, sid_of("alice"));
    const auto bobs_claiming_alice = issue("alice@example.test", {}, sid_of("bob"));
    for (int round = 0; round < 3; ++round) {
        EXPECT_EQ(who_gets_in(alices), "alice@EXAMPLE.TEST") << round;
        EXPECT_EQ(who_gets_in(bobs_claiming_alice), "bob@EXAMPLE.TEST") << round;
    }
}

// limits.max_connections_per_user counts the account a certificate maps to, not the UPN it claims:
// bob's certificate claiming alice's UPN counts against bob, and alice's second connection is hers.
TEST_F(GatewayMappingTest, ConnectionsPerUserAreCountedByTheMappedAccount) {
    GatewayOptions options;
    options.sections = "identity:\n  mapping: [sid, upn]\nlimits:\n  max_connections_per_user: 1\n";
    start_gateway(options);
    const auto device = [&](const IssuedCert& certificate, const std::string& name) {
        const auto [cert, key] = certificate.write(work_, name);
        return std::make_unique<DeviceConnection>(port_, lab().at("LAB_CA_FILE"), cert, key,
                                                  lab().at("LAB_GW_IP"));
    };
    const std::string path = url("Cmd=FolderSync");
    const std::string request = "GET " + path.substr(path.find("/Microsoft-Server-ActiveSync")) +
                                " HTTP/1.1\r\nHost: " + lab().at("LAB_GW_HOST") + "\r\n\r\n";
    const auto alices = device(issue("alice@example.test", {}, sid_of("alice")), "alice-device");
    ASSERT_EQ(alices->exchange(request), 200u) << gateway_->log();
    EXPECT_EQ(device(issue("alice@example.test", {}, sid_of("bob")), "bob-device")->exchange(request), 200u)
        << "bob's own first connection, whatever UPN it claims";
    EXPECT_EQ(device(issue("alice@example.test"), "alice-second")->exchange(request), 503u)
        << "alice's second, by UPN alone";
    EXPECT_EQ(alices->exchange(request), 200u) << "her first goes on";
}

// The policy judges the account too: a rule that lets alice in does not let in bob's certificate
// that claims her UPN.
TEST_F(GatewayMappingTest, ThePolicyJudgesTheMappedAccountNotTheClaimedUpn) {
    GatewayOptions options;
    options.sections =
        "identity:\n  mapping: [sid, upn]\n"
        "policy:\n  default: deny\n  rules:\n    - {name: alice-only, action: allow, users: "
        "[alice@example.test]}\n";
    start_gateway(options);
    EXPECT_EQ(who_gets_in(issue("alice@example.test", {}, sid_of("alice"))), "alice@EXAMPLE.TEST");
    EXPECT_EQ(who_gets_in(issue("alice@example.test", {}, sid_of("bob"))), "403");
}

// Each certificate twice: the second answer comes from the directory cache, without a search, and
// must be the same.
TEST_F(GatewayMappingTest, ASidThatNamesAnotherAccountThanTheUpnIsRefused) {
    start_gateway();
    const auto bobs_sid = issue("alice@example.test", {}, sid_of("bob"));
    const auto alices_sid = issue("alice@example.test", {}, sid_of("alice"));
    for (std::size_t pass = 1; pass <= 2; ++pass) {
        EXPECT_EQ(who_gets_in(bobs_sid), "403") << pass;
        EXPECT_EQ(times_logged("the certificate's SID names " + sid_of("bob"), pass), pass);
        EXPECT_EQ(who_gets_in(alices_sid), "alice@EXAMPLE.TEST") << pass;
    }
}

TEST_F(GatewayMappingTest, StrongMappingRequiredRefusesAUpnOnlyCertificate) {
    GatewayOptions options;
    options.sections = "identity:\n  strong_mapping: required\n";
    start_gateway(options);
    const auto upn_only = issue("alice@example.test");
    const auto with_sid = issue("alice@example.test", {}, sid_of("alice"));
    for (std::size_t pass = 1; pass <= 2; ++pass) {
        EXPECT_EQ(who_gets_in(upn_only), "403") << pass;
        EXPECT_EQ(times_logged("a weak mapping (Microsoft KB5014754)", pass), pass);
        EXPECT_EQ(who_gets_in(with_sid), "alice@EXAMPLE.TEST") << pass;
    }
}

// Intune's SCEP certificates carry the SID as a SAN URL (KB5014754), AD CS's as the extension: the
// URL finds its account and maps as strongly, under strong_mapping: required too.
TEST_F(GatewayMappingTest, TheSidInASanUrlMapsAsStronglyAsTheExtension) {
    GatewayOptions options;
    options.sections = "identity:\n  mapping: [sid, upn]\n  strong_mapping: required\n";
    start_gateway(options);
    CertSpec intune;
    intune.upn = "nobody@example.test";
    intune.uris = {"IntuneDeviceId://0f5c3a1e", "tag:microsoft.com,2022-09-14:sid:" + sid_of("bob")};
    EXPECT_EQ(who_gets_in(test_ca_->issue(intune)), "bob@EXAMPLE.TEST");
    intune.upn = "alice@example.test";
    intune.uris.pop_back();
    EXPECT_EQ(who_gets_in(test_ca_->issue(intune)), "403") << "without the URL, a weak mapping";
}

// A certificate naming no user (no UPN, no email: one from a CA outside AD that the admin maps in
// altSecurityIdentities, or one carrying only the SID) gets in where identity.mapping can find its
// account without a name, and is refused in the handshake where it can't; a reload adding such a
// mapping lets it in.
TEST_F(GatewayMappingTest, ACertificateNamingNoUserIsFoundByItsSidOrAltSecurityIdentities) {
    GatewayOptions options;
    options.sections = "identity:\n  mapping: [upn, email]\n";
    options.directory = "  negative_cache_ttl: 1ms\n";  // the DC is asked again once bob is mapped
    start_gateway(options);
    const auto sid_only = issue(std::nullopt, {}, sid_of("bob"));
    EXPECT_EQ(who_gets_in(sid_only), "000") << "refused in the handshake";
    EXPECT_NE(gateway_->wait_for_log("and easgate has no other way to find its user"), "");

    reload_with({{"mapping: [upn, email]",
                  "mapping: [upn, sid, alt_security_identities]\n  strong_mapping: required"}});
    EXPECT_EQ(who_gets_in(sid_only), "bob@EXAMPLE.TEST");
    const auto nameless = issue(std::nullopt);
    EXPECT_EQ(who_gets_in(nameless), "403") << "mapped nowhere yet";
    const auto identity = identity::extract_identity_from_der(nameless.der, identity::UserNames::optional);
    ASSERT_TRUE(identity) << identity.error;
    set_bobs_alt_security_identities({directory::strong_alt_security_identities(*identity.identity).front()});
    EXPECT_EQ(who_gets_in(nameless), "bob@EXAMPLE.TEST");
    EXPECT_NE(gateway_->log().find(" CN=device "), std::string::npos) << "log lines name it by its subject";
}

TEST_F(GatewayMappingTest, TheEmailFindsTheAccountByItsMailAttribute) {
    GatewayOptions options;
    options.sections = "identity:\n  mapping: [email]\n";
    start_gateway(options);
    EXPECT_EQ(who_gets_in(issue(std::nullopt, {"bob@example.test"})), "bob@EXAMPLE.TEST");
    EXPECT_EQ(who_gets_in(issue(std::nullopt, {"nobody@example.test"})), "403");
}

TEST_F(GatewayMappingTest, EachStrongAltSecurityIdentitiesFormFindsItsAccount) {
    GatewayOptions options;
    options.sections = "identity:\n  mapping: [alt_security_identities]\n  strong_mapping: required\n";
    options.directory = "  negative_cache_ttl: 1ms\n";  // the DC is asked again once bob is mapped
    start_gateway(options);
    const char* forms[] = {"X509:<I>", "X509:<SKI>", "X509:<SHA1-PUKEY>"};
    for (const char* form : forms) {
        const auto certificate = issue("nobody@example.test");
        const auto identity = identity::extract_identity_from_der(certificate.der);
        ASSERT_TRUE(identity) << identity.error;
        std::string mapping;
        for (const auto& value : directory::strong_alt_security_identities(*identity.identity))
            if (value.starts_with(form)) mapping = value;
        ASSERT_FALSE(mapping.empty()) << form;
        EXPECT_EQ(who_gets_in(certificate), "403") << form;  // not mapped yet
        set_bobs_alt_security_identities({mapping});
        EXPECT_EQ(who_gets_in(certificate), "bob@EXAMPLE.TEST") << mapping;
    }
}

// KB5014754 (as a DC in Compatibility mode, KDC event 40): a certificate mapped only by its UPN
// that is older than the account was issued to an earlier holder of the name. The test makes the
// account now, as an admin giving a new hire a departed colleague's name would; the departed
// colleague's certificate (issued months ago, never revoked) must not open the new hire's mailbox.
TEST_F(GatewayMappingTest, AWeaklyMappedCertificateOlderThanItsAccountIsRefused) {
    const std::string name = "rehired";
    const std::string dn = "CN=" + name + ",CN=Users," + lab().at("LAB_BASE_DN");
    std::string password;  // unicodePwd: the quoted password in UTF-16LE
    for (const char c : "\"" + lab().at("LAB_USER_PASSWORD") + "\"") password += {c, '\0'};
    std::string encoded(4 * (password.size() / 3 + 1) + 1, '\0');
    encoded.resize(static_cast<std::size_t>(EVP_EncodeBlock(
        reinterpret_cast<unsigned char*>(encoded.data()),
        reinterpret_cast<const unsigned char*>(password.data()), static_cast<int>(password.size()))));
    as_administrator({"ldapdelete"}, dn + "\n");  // a run that stopped half-way left it
    const auto departed = [&] {
        CertSpec spec;
        spec.upn = name + "@example.test";
        spec.not_before = -std::chrono::days(200);
        return test_ca_->issue(spec);
    }();
    const auto created = as_administrator(
        {"ldapadd"}, "dn: " + dn + "\nobjectClass: user\nsAMAccountName: " + name + "\nuserPrincipalName: " +
                         name + "@example.test\nunicodePwd:: " + encoded + "\nuserAccountControl: 512\n\n");
    ASSERT_EQ(created.exit_code, 0) << created.err << created.out;

    GatewayOptions options;
    options.sections = "identity:\n  mapping: [upn, alt_security_identities]\n";
    options.directory = "  negative_cache_ttl: 1ms\n";  // the explicit mapping below is seen at once
    start_gateway(options);
    EXPECT_EQ(who_gets_in(departed), "403");
    EXPECT_EQ(times_logged("and the certificate is older than the account: issued ", 1), 1u);
    EXPECT_EQ(who_gets_in(issue(name + "@example.test")), "rehired@EXAMPLE.TEST");  // the new hire's own
    // The admin decides the old certificate is the new hire's after all (a re-created account):
    // mapped explicitly, a strong mapping, it gets in though upn found the account first.
    const auto identity = identity::extract_identity_from_der(departed.der);
    ASSERT_TRUE(identity) << identity.error;
    set_alt_security_identities(dn, {directory::strong_alt_security_identities(*identity.identity).front()});
    EXPECT_EQ(who_gets_in(departed), "rehired@EXAMPLE.TEST");
    // A SID extension maps strongly: no guess by date is needed (nor made).
    auto departed_with_sid = [&] {
        CertSpec spec;
        spec.upn = name + "@example.test";
        spec.sid = sid_of(name);
        spec.not_before = -std::chrono::days(200);
        return test_ca_->issue(spec);
    }();
    EXPECT_EQ(who_gets_in(departed_with_sid), "rehired@EXAMPLE.TEST");
    const auto deleted = as_administrator({"ldapdelete"}, dn + "\n");
    EXPECT_EQ(deleted.exit_code, 0) << deleted.err;
}

}  // namespace
}  // namespace easgate::testing
