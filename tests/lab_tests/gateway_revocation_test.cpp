// Revocation as an AD CS estate runs it: the lab's offline root → issuing CA → devices, each CA's
// CRL published in the directory at the ldap:/// CDP its certificates name first and by the lab's
// web server at the http:// one after it (with the CA's name and its spaces in the URL, as AD CS
// writes them). alice's lost phone is on the issuing CA's base CRL, her stolen one only on its
// delta CRL (tests/lab/pki.sh).
#include <gtest/gtest.h>

#include <chrono>
#include <optional>
#include <string>
#include <thread>

#include "child_process.hpp"
#include "gateway_delegation_fixture.hpp"
#include "lab_administration.hpp"

namespace easgate::testing {
namespace {

class GatewayRevocationTest : public GatewayDelegationTest {
protected:
    // A FolderSync as alice from the phone whose certificate is clients/<file>.pem.
    CommandResult alice_syncs_with(const std::string& file) const {
        const std::filesystem::path dir = lab().at("LAB_CLIENT_CERT_DIR");
        return curl_as_device(url("Cmd=FolderSync&User=alice"), lab().at("LAB_CA_FILE"),
                              dir / (file + ".pem"), dir / (file + ".key"),
                              {"--write-out", "\n%{http_code}"});
    }

    // Polls until the refresher has fetched `count` CRLs (10 s at most).
    bool fetched_at_least(double count) const {
        for (int i = 0; i < 100; ++i) {
            if (metric("easgate_crl_fetches_total").value_or(0) >= count) return true;
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
        }
        return false;
    }

    static std::string crl_refresh() { return "      crl_refresh: {mode: cdp, interval: 1h}\n"; }
};

TEST_F(GatewayRevocationTest, TwoTierChainIsCheckedAgainstBothCrlsAndTheLostPhoneIsRefused) {
    GatewayOptions options;
    options.client_auth = "      crl_files: ['" + lab().at("LAB_ISSUING_CRL") + "', '" +
                          lab().at("LAB_ISSUING_DELTA_CRL") + "', '" + lab().at("LAB_ROOT_CRL") + "']\n" +
                          crl_refresh();
    const auto served_before = read_file(lab().at("LAB_PKI_ACCESS_LOG")).size();
    start_gateway(options);

    const auto alice = alice_syncs_with("alice");
    ASSERT_EQ(alice.exit_code, 0) << alice.err;
    EXPECT_NE(alice.out.find("\"user\": \"alice@EXAMPLE.TEST\""), std::string::npos) << alice.out;
    EXPECT_EQ(alice.out.substr(alice.out.rfind('\n') + 1), "200");

    const auto lost = alice_syncs_with(lab().at("LAB_REVOKED_CLIENT"));
    EXPECT_NE(lost.exit_code, 0) << "a revoked certificate completed the handshake: " << lost.out;
    const auto refusal = gateway_->wait_for_log(": certificate revoked: ");
    EXPECT_NE(refusal.find("CN=alice"), std::string::npos) << refusal;
    EXPECT_NE(refusal.find(", reason keyCompromise"), std::string::npos) << refusal;

    // The CRLs come again from the CDPs: the root's, named by the issuing CA's certificate, at
    // start; the issuing CA's and its delta once alice's phone named them. Each from the directory,
    // the first location AD CS lists: the web server, the alternative, is not asked.
    EXPECT_TRUE(fetched_at_least(3)) << gateway_->log();
    EXPECT_EQ(metric("easgate_crl_fetch_failures_total"), 0.0) << gateway_->log();
    EXPECT_EQ(gateway_->log().find(" skipped"), std::string::npos) << gateway_->log();
    const auto served = read_file(lab().at("LAB_PKI_ACCESS_LOG")).substr(served_before);
    EXPECT_EQ(served.find("GET /CertEnroll/easgate%20lab%20"), std::string::npos) << served;
}

// AD CS publishes a delta CRL between base CRLs (by default a day apart; the base, a week): a phone
// revoked since the base is on the delta only. Given in crl_files, or fetched from the base CRL's
// Freshest CRL ("<CA name>+.crl", the + and the spaces as AD CS names it), it refuses that phone.
TEST_F(GatewayRevocationTest, APhoneRevokedSinceTheBaseCrlIsRefusedByTheDeltaCrl) {
    const std::string stolen = lab().at("LAB_DELTA_REVOKED_CLIENT");
    const std::string base_crls =
        "      crl_files: ['" + lab().at("LAB_ISSUING_CRL") + "', '" + lab().at("LAB_ROOT_CRL") + "'";
    GatewayOptions options;
    options.client_auth = base_crls + ", '" + lab().at("LAB_ISSUING_DELTA_CRL") + "']\n";
    start_gateway(options);
    const auto alice = alice_syncs_with("alice");
    EXPECT_EQ(alice.out.substr(alice.out.rfind('\n') + 1), "200") << alice.err;
    EXPECT_NE(alice_syncs_with(stolen).exit_code, 0) << "the delta CRL in crl_files revokes it";
    const auto refusal = gateway_->wait_for_log(": certificate revoked: ");
    EXPECT_NE(refusal.find("listed by the delta CRL of \"CN=easgate lab Issuing CA"), std::string::npos)
        << refusal;
    EXPECT_NE(refusal.find(", reason keyCompromise"), std::string::npos) << refusal;

    // The next easgate appends to the same log: the first one's lines go aside.
    std::filesystem::rename(work_ / "easgate.err", work_ / "easgate-with-delta-file.err");
    const auto served_before = read_file(lab().at("LAB_PKI_ACCESS_LOG")).size();
    options.client_auth = base_crls + "]\n" + crl_refresh();
    start_gateway(options);
    const auto delta = gateway_->wait_for_log("delta CRL of \"CN=easgate lab Issuing CA");
    EXPECT_NE(delta.find(" from ldap:///CN=easgate%20lab%20Issuing%20CA,CN=pki,CN=CDP,"), std::string::npos)
        << gateway_->log();
    const auto refused = alice_syncs_with(stolen);
    EXPECT_NE(refused.exit_code, 0) << "the delta fetched from the base CRL's Freshest CRL revokes it: "
                                    << refused.out;
    EXPECT_FALSE(gateway_->wait_for_log(": certificate revoked: ").empty()) << gateway_->log();
    const auto served = read_file(lab().at("LAB_PKI_ACCESS_LOG")).substr(served_before);
    EXPECT_EQ(served.find("GET /CertEnroll/easgate%20lab%20Issuing%20CA+.crl "), std::string::npos) << served;
}

// Without crl_files, nothing names the issuing CA's CDP until a device does: that first phone is
// refused (no CRL of its CA yet), easgate fetches the CRL at once, and the phone's retry passes.
TEST_F(GatewayRevocationTest, WithoutSeedFilesTheFirstPhoneOfACaWaitsForItsCrl) {
    GatewayOptions options;
    options.client_auth = crl_refresh();
    start_gateway(options);

    const auto first = alice_syncs_with("alice");
    EXPECT_NE(first.exit_code, 0) << first.out;
    EXPECT_FALSE(gateway_->wait_for_log("unable to get certificate CRL").empty()) << gateway_->log();

    std::string status;
    for (int attempt = 0; attempt < 50 && status != "200"; ++attempt) {
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
        const auto retry = alice_syncs_with("alice");
        status = retry.out.substr(retry.out.rfind('\n') + 1);
    }
    EXPECT_EQ(status, "200") << gateway_->log();
    EXPECT_NE(alice_syncs_with(lab().at("LAB_REVOKED_CLIENT")).exit_code, 0);
    EXPECT_FALSE(gateway_->wait_for_log(": certificate revoked: ").empty()) << gateway_->log();
    // alice's certificate and the base CRL name the delta CRL's locations: fetched at once too.
    EXPECT_FALSE(gateway_->wait_for_log("delta CRL of \"CN=easgate lab Issuing CA,O=easgate lab\"").empty())
        << gateway_->log();
    EXPECT_NE(alice_syncs_with(lab().at("LAB_DELTA_REVOKED_CLIENT")).exit_code, 0);
    EXPECT_FALSE(gateway_->wait_for_log("listed by the delta CRL of").empty()) << gateway_->log();
}

// A CA that publishes its CRLs only to Active Directory (AD CS's first CDP location; many estates
// have no web server in reach of the gateway): the test's own CA, its CDP and Freshest CRL each an
// ldap:/// URL alone, its CRLs published under CN=CDP in the configuration partition as
// certutil -dspublish does.
class GatewayDirectoryCrlTest : public GatewayRevocationTest {
protected:
    static std::string cdp_dn() {
        return "CN=easgate lab test CA,CN=pki,CN=CDP,CN=Public Key Services,CN=Services,CN=Configuration," +
               lab().at("LAB_BASE_DN");
    }

    // Where the test CA's base CRL (certificateRevocationList) or delta CRL (deltaRevocationList)
    // is, as AD CS writes it into its CDPs and Freshest CRLs.
    static std::string location(const std::string& attribute) {
        return "ldap:///CN=easgate%20lab%20test%20CA,CN=pki,CN=CDP,CN=Public%20Key%20Services,CN=Services,"
               "CN=Configuration," +
               lab().at("LAB_BASE_DN") + "?" + attribute + "?base?objectClass=cRLDistributionPoint";
    }

    void SetUp() override {
        GatewayRevocationTest::SetUp();
        test_ca_->publish_at(location("certificateRevocationList"), location("deltaRevocationList"));
        as_administrator({"ldapdelete", cdp_dn()});  // left by a run that was killed
    }

    void TearDown() override {
        as_administrator({"ldapdelete", cdp_dn()});  // absent when the test published nothing
        GatewayRevocationTest::TearDown();
    }

    // A CRL of the test CA in DER, as the CA publishes it to the directory: the file's path.
    std::string der_file(const std::string& name, const std::string& pem) const {
        write_file(work_ / (name + ".pem"), pem);
        const auto der = run_command({"openssl", "crl", "-in", (work_ / (name + ".pem")).string(), "-outform",
                                      "DER", "-out", (work_ / (name + ".crl")).string()});
        EXPECT_EQ(der.exit_code, 0) << der.err;
        return (work_ / (name + ".crl")).string();
    }

    // The test CA's base CRL and delta CRL, published to the directory.
    void publish(const std::string& base_pem, const std::string& delta_pem) {
        const auto published = as_administrator(
            {"ldapadd"}, "dn: " + cdp_dn() + "\nobjectClass: cRLDistributionPoint\n" +
                             "certificateRevocationList:< file://" + der_file("base", base_pem) + "\n" +
                             "deltaRevocationList:< file://" + der_file("delta", delta_pem) + "\n\n");
        ASSERT_EQ(published.exit_code, 0) << published.err;
    }

    // The status of a request from the device, retried (200 ms apart, 10 s at most) while the TLS
    // handshake fails for want of its CA's CRL.
    std::string status_once_its_crl_is_held(const IssuedCert& device) {
        std::string status;
        for (int attempt = 0; attempt < 50; ++attempt) {
            status = as_certificate(device).out;
            if (status != "000") break;
            std::this_thread::sleep_for(std::chrono::milliseconds(200));
        }
        return status;
    }
};

// The lost phone is on the base CRL, the stolen one (revoked since) on the delta CRL only; both CRLs
// are read from the directory, the delta found through the base CRL's Freshest CRL.
TEST_F(GatewayDirectoryCrlTest, BothCrlsAreReadFromTheDirectoryAndRevokedPhonesAreRefused) {
    CertSpec spec;
    spec.upn = "alice@example.test";
    const auto phone = test_ca_->issue(spec);
    const auto lost = test_ca_->issue(spec);
    const auto stolen = test_ca_->issue(spec);
    test_ca_->revoke(lost, 1 /* keyCompromise */);
    const auto base = test_ca_->crl_pem();
    test_ca_->revoke(stolen, 1);
    publish(base, test_ca_->delta_crl_pem());
    GatewayOptions options;
    options.client_auth = crl_refresh();
    start_gateway(options);

    EXPECT_EQ(status_once_its_crl_is_held(phone), "200") << gateway_->log();
    EXPECT_FALSE(
        gateway_->wait_for_log("from " + location("certificateRevocationList") + " is in use").empty())
        << gateway_->log();
    EXPECT_NE(as_certificate(lost).out, "200");
    const auto refusal = gateway_->wait_for_log(": certificate revoked: ");
    EXPECT_NE(refusal.find("reason keyCompromise"), std::string::npos) << gateway_->log();
    EXPECT_FALSE(gateway_->wait_for_log("from " + location("deltaRevocationList") + " is in use").empty())
        << gateway_->log();
    EXPECT_NE(as_certificate(stolen).out, "200");
    EXPECT_FALSE(gateway_->wait_for_log("listed by the delta CRL of \"CN=easgate lab test CA").empty())
        << gateway_->log();
    EXPECT_EQ(as_certificate(phone).out, "200");
    EXPECT_EQ(metric("easgate_crl_fetch_failures_total"), 0.0) << gateway_->log();
}

// The CA has not published its CRL to the directory: the refresh says so and what to do, and the
// CA's devices stay refused (no CRL, no entry).
TEST_F(GatewayDirectoryCrlTest, AnUnpublishedCrlIsAFailureNamingTheRemedy) {
    CertSpec spec;
    spec.upn = "alice@example.test";
    const auto phone = test_ca_->issue(spec);
    GatewayOptions options;
    options.client_auth = crl_refresh();
    start_gateway(options);

    EXPECT_EQ(as_certificate(phone).out, "000");
    const auto failed = gateway_->wait_for_log("CRL refresh from " + location("certificateRevocationList"));
    EXPECT_NE(
        failed.find(" failed: " + lab().at("LAB_LDAPS_URL") + ": no such entry: the CA has not published"),
        std::string::npos)
        << failed;
    EXPECT_NE(failed.find("certutil -dspublish"), std::string::npos) << failed;
    EXPECT_GE(metric("easgate_crl_fetch_failures_total").value_or(0), 1.0) << gateway_->log();
    EXPECT_EQ(as_certificate(phone).out, "000");
}

// The locations of one distribution point are alternatives, tried in the order the certificate
// lists them: with the directory's entry missing, the CRL comes from the web server after it.
TEST_F(GatewayDirectoryCrlTest, WhenTheDirectoryLacksTheCrlItsWebLocationServesIt) {
    const std::string file = "easgate lab test CA.crl";
    const std::string issuing_url = lab().at("LAB_ISSUING_CRL_URL");  // http://pki…/CertEnroll/<CA>.crl
    const std::string web = issuing_url.substr(0, issuing_url.rfind('/')) + "/easgate%20lab%20test%20CA.crl";
    const auto uri = [](const std::string& url) { return der_tlv(0x86, {der_text(url)}); };
    test_ca_->publish_at("");  // the CDP is this test's own
    CertSpec spec;
    spec.upn = "alice@example.test";
    spec.extra_extensions.push_back(
        {"2.5.29.31",  // CRL Distribution Points as AD CS writes it: one point, ldap:/// first, then http://
         der_tlv(0x30,
                 {der_tlv(0x30, {der_tlv(0xa0, {der_tlv(0xa0, {uri(location("certificateRevocationList")),
                                                               uri(web)})})})})});
    const auto phone = test_ca_->issue(spec);
    const std::filesystem::path published =
        std::filesystem::path(lab().at("LAB_ISSUING_CRL")).parent_path() / file;
    write_file(published, test_ca_->crl_pem());
    std::filesystem::permissions(published, std::filesystem::perms::others_read,
                                 std::filesystem::perm_options::add);
    GatewayOptions options;
    options.client_auth = crl_refresh();
    start_gateway(options);

    const auto status = status_once_its_crl_is_held(phone);
    std::filesystem::remove(published);
    EXPECT_EQ(status, "200") << gateway_->log();
    const auto fallback = gateway_->wait_for_log(" served the CRL");
    EXPECT_NE(fallback.find("CRL refresh from " + location("certificateRevocationList") +
                            " failed: " + lab().at("LAB_LDAPS_URL") + ": no such entry"),
              std::string::npos)
        << fallback;
    EXPECT_NE(fallback.find("; " + web + " served the CRL"), std::string::npos) << fallback;
    EXPECT_EQ(metric("easgate_crl_fetch_failures_total"), 0.0) << gateway_->log();
    EXPECT_EQ(metric("easgate_crl_distribution_points_failing"), 0.0) << gateway_->log();
}

}  // namespace
}  // namespace easgate::testing
