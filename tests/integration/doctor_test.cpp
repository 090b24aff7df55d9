// `easgate doctor --json` run as an admin runs it, on a PKI laid out as AD CS builds one (offline
// root → issuing CA → devices), with one thing broken per test; each test checks the verdict and
// that the finding names the cause.
#include "doctor_fixture.hpp"

namespace easgate::testing {
namespace {

TEST_F(DoctorTest, AGoodConfigurationPasses) {
    run();
    EXPECT_EQ(exit_code_, 0) << output_;
    EXPECT_EQ(report_["ok"], true);
    EXPECT_EQ(count("tls", "WARN") + count("tls", "FAIL"), 0u) << output_;
    expect("listeners[0] TLS settings", "PASS", "key matches");
    expect("listeners[0] CRL of CA", "PASS", "\"CN=Doctor Root CA\"");
    expect("listeners[0] CRL of CA", "PASS", "\"CN=Doctor Issuing CA\"");
    expect("trusted_ca_file CA", "PASS", "CA \"CN=Doctor Issuing CA\" (link");
    expect("trusted_ca_file CA", "PASS", "CA \"CN=Doctor Root CA\" (anchor: a root)");
    expect("listeners[0] device issuers", "PASS",
           "only the CAs listed in trusted_ca_file issue device certificates: \"CN=Doctor Issuing CA\"");
}

// Exchange as easgate reaches it, before any user: here without a kerberos: section, so its 401 is
// no fault; its clock is read from its Date header.
TEST_F(DoctorTest, ExchangeIsReachedAndItsClockRead) {
    run();
    EXPECT_EQ(exit_code_, 0) << output_;
    expect("connection to http://127.0.0.1:", "PASS", "TCP (plain http");
    expect("without credentials", "PASS", "OPTIONS /Microsoft-Server-ActiveSync: 401");
    expect(" clock", "PASS", "Exchange's clock agrees with this host's");
    EXPECT_EQ(count("exchange", "WARN") + count("exchange", "FAIL"), 0u) << output_;
}

TEST_F(DoctorTest, AnExchangeClockSevenMinutesAheadWarnsAndAStoppedPoolIsNamed) {
    run({.exchange_answer = iis_refusal("Negotiate, NTLM", std::chrono::seconds(7 * 60 + 12))});
    expect(" clock", "WARN", "Exchange's clock is 7 min 1");  // 12 s, or 11 when the second turned
    expect(" clock", "WARN", "ahead of this host's");
    expect(" clock", "WARN", "w32tm /resync");
    run({.exchange_answer = "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n"});
    expect("without credentials", "WARN", "MSExchangeSyncAppPool");
    expect(" clock", "SKIP", "no Date header");
}

TEST_F(DoctorTest, AnExchangeThatCannotBeReachedFails) {
    run({.exchange_url = "http://127.0.0.1:" + std::to_string(free_tcp_port())});
    EXPECT_EQ(exit_code_, 1) << output_;
    expect("connection to http://127.0.0.1:", "FAIL", "check upstreams[].servers");
}

// An admin who listed only the root (a two-tier PKI): devices of the issuing CA are refused by default,
// and the doctor says so before a phone does; with any_below_listed they pass, and that is warned about.
TEST_F(DoctorTest, OnlyTheRootListedWarnsAndRefusesItsIssuingCasDevices) {
    run({.crl_files = {}, .trusted_cas = "root-only.pem"}, "chained");
    EXPECT_EQ(exit_code_, 1) << output_;
    expect("listeners[0] device issuers", "WARN", "only roots are listed (\"CN=Doctor Root CA\")");
    expect("accepted by listeners[0]", "FAIL",
           "issued by \"CN=Doctor Issuing CA\", a CA not listed in client_auth.trusted_ca_file");
    expect("accepted by listeners[0]", "FAIL", "add it to client_auth.trusted_ca_file");
    run({.crl_files = {}, .client_auth = "      issuers: any_below_listed\n", .trusted_cas = "root-only.pem"},
        "chained");
    EXPECT_EQ(exit_code_, 0) << output_;
    expect("listeners[0] device issuers", "WARN", "any CA under \"CN=Doctor Root CA\" may issue");
    expect("accepted by listeners[0]", "PASS", "chains to client_auth.trusted_ca_file");
}

TEST_F(DoctorTest, AKeyNotMatchingTheCertificateFailsNamingTheKey) {
    run({.private_key = "other.key"});
    EXPECT_EQ(exit_code_, 1) << output_;
    expect("listeners[0] TLS settings", "FAIL", "listeners[0].private_key: ");
    expect("listeners[0] TLS settings", "FAIL", "does not match the certificate");
}

TEST_F(DoctorTest, AServerCertificateExpiringInTenDaysWarnsWithTheDate) {
    run({.certificate = "server-expiring.pem", .private_key = "server-expiring.key"});
    EXPECT_EQ(exit_code_, 0) << output_;
    expect("server certificate validity", "WARN", "server certificate \"CN=localhost\" expires in ");
    expect("server certificate validity", "WARN", " days, at 20");
}

TEST_F(DoctorTest, AServerCertificateWithoutItsIntermediateOrOfAnotherNameWarns) {
    run({.certificate = "server-alone.pem", .public_name = "mail.example.test"});
    EXPECT_EQ(exit_code_, 0) << output_;
    expect("server certificate chain", "WARN", "the issuer \"CN=Doctor Server Issuing CA\" of the server");
    expect("server certificate name", "WARN", "public_name mail.example.test is not a subjectAltName");
}

TEST_F(DoctorTest, AGoodDeviceCertificatePasses) {
    run({}, "good");
    EXPECT_EQ(exit_code_, 0) << output_;
    EXPECT_EQ(count("device", "WARN") + count("device", "FAIL"), 0u) << output_;
    expect("accepted by listeners[0]", "PASS", "chains to client_auth.trusted_ca_file");
    expect("UPN", "PASS", "alice@example.test");
    expect("SID", "PASS", "S-1-5-21-");
    expect("directory account", "SKIP", "no directory section");
}

TEST_F(DoctorTest, ARevokedDeviceFailsNamingTheCrlAndDate) {
    run({}, "revoked");
    EXPECT_EQ(exit_code_, 1) << output_;
    expect("accepted by listeners[0]", "FAIL",
           "certificate revoked: listed by the CRL of \"CN=Doctor Issuing CA\" (nextUpdate ");
    expect("accepted by listeners[0]", "FAIL", ") as revoked on 20");
}

// SEG set-ups often searched a Global Catalog: its answers lack some of what easgate checks.
TEST_F(DoctorTest, ADirectoryUriOnAGlobalCatalogPortWarns) {
    write_file(work_ / "ldap-password", "x");
    run({.sections = "directory:\n  uris: [ldap://127.0.0.1:3268, ldaps://127.0.0.1:3269, "
                     "ldaps://127.0.0.1:636]\n  base_dn: DC=example,DC=test\n  timeout: 1s\n"
                     "  bind: {method: simple, dn: CN=x, password_file: " +
                     (work_ / "ldap-password").string() + "}\n"});
    expect("ldap://127.0.0.1:3268 Global Catalog", "WARN", "this domain's DCs");
    expect("ldaps://127.0.0.1:3269 Global Catalog", "WARN", "other_domain");
    for (const auto& finding : report_["checks"])
        EXPECT_EQ(finding["check"].get<std::string>().find("636 Global Catalog"), std::string::npos);
}

TEST_F(DoctorTest, ADeviceFromAnUnknownCaFailsNamingItsIssuer) {
    run({}, "rogue");
    EXPECT_EQ(exit_code_, 1) << output_;
    expect("accepted by listeners[0]", "FAIL", "issuer=\"CN=Doctor Rogue CA\"");
    expect("accepted by listeners[0]", "FAIL", "not in client_auth.trusted_ca_file");
}

TEST_F(DoctorTest, ADeviceWithoutClientAuthenticationEkuFails) {
    run({}, "no-eku");
    EXPECT_EQ(exit_code_, 1) << output_;
    expect("Client Authentication EKU", "FAIL", "require_client_auth_eku refuses it");
}

TEST_F(DoctorTest, ADeviceWithoutUpnFails) {
    run({}, "no-upn");
    EXPECT_EQ(exit_code_, 1) << output_;
    expect("UPN", "FAIL", "no UPN otherName");
}

TEST_F(DoctorTest, ADeviceWithoutSidExtensionWarnsUnderPreferredAndFailsUnderRequired) {
    run({}, "no-sid");
    EXPECT_EQ(exit_code_, 0) << output_;
    expect("SID", "WARN", "identity.strong_mapping preferred");
    EXPECT_NE(output_.find("(for this certificate: X509:<I>"), std::string::npos) << output_;
    run({.strong_mapping = "required"}, "no-sid");
    EXPECT_EQ(exit_code_, 1) << output_;
    expect("SID", "FAIL", "identity.strong_mapping is required");
}

}  // namespace
}  // namespace easgate::testing
