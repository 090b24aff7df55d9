// Revocation as an AD CS estate runs it: the lab's offline root → issuing CA → devices, each CA's
// CRL published by the lab's web server at the http:// CDP its certificates name (after an
// ldap:/// one, with the CA's name and its spaces in the URL, as AD CS writes it). alice's lost
// phone is on the issuing CA's base CRL, her stolen one only on its delta CRL (tests/lab/pki.sh).
#include <gtest/gtest.h>

#include <chrono>
#include <optional>
#include <string>
#include <thread>

#include "child_process.hpp"
#include "gateway_delegation_fixture.hpp"

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
                          lab().at("LAB_ROOT_CRL") + "']\n" + crl_refresh();
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

    // Both CRLs come again from the CDPs: the root's from the issuing CA's certificate at start, the
    // issuing CA's once alice's phone named it; the ldap:/// locations are skipped, not failed.
    EXPECT_TRUE(fetched_at_least(2)) << gateway_->log();
    EXPECT_EQ(metric("easgate_crl_fetch_failures_total"), 0.0) << gateway_->log();
    EXPECT_FALSE(
        gateway_->wait_for_log("CRL distribution point ldap:///CN=easgate%20lab%20Root%20CA").empty());
    const auto served = read_file(lab().at("LAB_PKI_ACCESS_LOG")).substr(served_before);
    EXPECT_NE(served.find(" 200 \"GET /CertEnroll/easgate%20lab%20Issuing%20CA.crl "), std::string::npos)
        << served;
    EXPECT_NE(served.find(" 200 \"GET /CertEnroll/easgate%20lab%20Root%20CA.crl "), std::string::npos)
        << served;
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
    const std::string delta_url = lab().at("LAB_ISSUING_DELTA_CRL_URL");
    EXPECT_FALSE(gateway_->wait_for_log("from " + delta_url + " is in use").empty()) << gateway_->log();
    const auto refused = alice_syncs_with(stolen);
    EXPECT_NE(refused.exit_code, 0) << "the delta fetched from the base CRL's Freshest CRL revokes it: "
                                    << refused.out;
    EXPECT_FALSE(gateway_->wait_for_log(": certificate revoked: ").empty()) << gateway_->log();
    const auto served = read_file(lab().at("LAB_PKI_ACCESS_LOG")).substr(served_before);
    EXPECT_NE(served.find(" 200 \"GET /CertEnroll/easgate%20lab%20Issuing%20CA+.crl "), std::string::npos)
        << served;
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
}

}  // namespace
}  // namespace easgate::testing
