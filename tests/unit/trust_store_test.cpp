// The device trust store on a two-tier PKI as AD CS builds it: offline root → issuing CA → devices.
#include "easgate/identity/trust_store.hpp"

#include <gtest/gtest.h>
#include <openssl/x509v3.h>
#include <unistd.h>

#include <chrono>

#include "test_pki.hpp"

namespace easgate::identity {
namespace {

using testing::CertSpec;
using testing::TestCa;

// Whether an explanation is of a revocation (it goes on to name the CRL and the date).
bool revoked(const std::string& explanation) { return explanation.rfind("certificate revoked", 0) == 0; }

thread_local std::string refusal;  // the first explanation, made while OpenSSL still holds the CRL

// What the listener's verify callback does with an error: tolerate only the anchor's missing CRL.
int tolerate_missing_anchor_crl(int preverified, X509_STORE_CTX* store) {
    if (preverified || is_missing_anchor_crl(store)) return 1;
    if (refusal.empty()) refusal = explain_verify_error(store);
    return 0;
}

class TrustStoreTest : public ::testing::Test {
protected:
    TrustStoreTest()
        : root(TestCa::create_root("Corp Root CA")), issuing(root.create_intermediate("Corp Issuing CA")) {}
    ~TrustStoreTest() override { std::filesystem::remove_all(dir); }

    // Verifies the device as a TLS server verifies a client; "" when accepted, else the explanation.
    std::string verify(const std::string& trusted_pem, const std::vector<std::string>& crl_pems,
                       const testing::IssuedCert& device, std::string* error_subject = nullptr) {
        const auto path = dir / "trusted.pem";
        testing::write_file(path, trusted_pem);
        std::vector<X509CrlPtr> crls;
        for (const auto& pem : crl_pems) {
            for (auto& crl : parse_crls(pem)) crls.push_back(std::move(crl));
        }
        const auto store = build_trust_store(load_trust_anchors(path.string()), crls, !crls.empty());
        const auto leaf = testing::parse_certificate_pem(device.cert_pem);
        const common::OpenSslPtr<X509_STORE_CTX, X509_STORE_CTX_free> context(X509_STORE_CTX_new());
        X509_STORE_CTX_init(context.get(), store.get(), leaf.get(), nullptr);
        X509_STORE_CTX_set_default(context.get(), "ssl_client");
        X509_STORE_CTX_set_verify_cb(context.get(), tolerate_missing_anchor_crl);
        refusal.clear();
        if (X509_verify_cert(context.get()) == 1) return "";
        if (error_subject) {
            X509* culprit = X509_STORE_CTX_get_current_cert(context.get());
            char name[256];
            X509_NAME_oneline(X509_get_subject_name(culprit), name, sizeof name);
            *error_subject = name;
        }
        return refusal;
    }

    testing::IssuedCert device() const {
        CertSpec spec;
        spec.upn = "alice@corp.example";
        return issuing.issue(spec);
    }

    std::filesystem::path dir =
        std::filesystem::temp_directory_path() / ("trust-store-" + std::to_string(::getpid()));
    TestCa root;
    TestCa issuing;
};

TEST_F(TrustStoreTest, IssuingCaAndRootWithBothCrlsAcceptsADevice) {
    EXPECT_EQ(verify(issuing.cert_pem() + root.cert_pem(), {issuing.crl_pem(), root.crl_pem()}, device()),
              "");
}

TEST_F(TrustStoreTest, IssuingCaListedAloneWithItsCrlAcceptsADevice) {
    EXPECT_EQ(verify(issuing.cert_pem(), {issuing.crl_pem()}, device()), "");
}

TEST_F(TrustStoreTest, IssuingCaRevokedByTheRootRefusesItsDevicesEvenWhenListed) {
    const auto leaf = device();
    root.revoke(issuing.serial_hex());
    std::string subject;
    EXPECT_TRUE(revoked(
        verify(issuing.cert_pem() + root.cert_pem(), {issuing.crl_pem(), root.crl_pem()}, leaf, &subject)));
    EXPECT_EQ(subject, "/CN=Corp Issuing CA");
}

TEST_F(TrustStoreTest, MissingRootCrlRefusesWhenTheRootIsListed) {
    EXPECT_EQ(verify(issuing.cert_pem() + root.cert_pem(), {issuing.crl_pem()}, device()),
              "unable to get certificate CRL: no CRL of \"CN=Corp Root CA\" is loaded: add it to "
              "client_auth.crl_files or turn on client_auth.crl_refresh");
}

TEST_F(TrustStoreTest, ExpiredCrlIsExplained) {
    const auto text = verify(issuing.cert_pem(), {issuing.crl_pem(-std::chrono::hours(2))}, device());
    EXPECT_EQ(text.rfind("CRL has expired: the CRL of \"CN=Corp Issuing CA\" was due for renewal at 20", 0),
              0u)
        << text;
}

TEST_F(TrustStoreTest, DeltaCrlRevocationsCount) {
    issuing.publish_at("http://127.0.0.1:1/issuing.crl", "http://127.0.0.1:1/issuing-delta.crl");
    const auto leaf = device();
    const auto base = issuing.crl_pem();
    issuing.revoke(leaf);
    EXPECT_EQ(verify(issuing.cert_pem(), {base}, leaf), "");
    const auto text = verify(issuing.cert_pem(), {base, issuing.delta_crl_pem()}, leaf);
    // Explained by the delta, the only CRL that lists it, though OpenSSL names the base as current.
    EXPECT_EQ(text.rfind(
                  "certificate revoked: listed by the delta CRL of \"CN=Corp Issuing CA\" (nextUpdate 20", 0),
              0u)
        << text;
}

TEST_F(TrustStoreTest, ADeltaCrlNeverHidesWhatItsBaseRevoked) {
    issuing.publish_at("http://127.0.0.1:1/issuing.crl", "http://127.0.0.1:1/issuing-delta.crl");
    const auto leaf = device();
    issuing.revoke(leaf);
    const auto base = issuing.crl_pem();
    EXPECT_TRUE(revoked(verify(issuing.cert_pem(), {base, issuing.delta_crl_pem()}, leaf)));
    const auto expired_base = issuing.crl_pem(-std::chrono::hours(1));
    issuing.crl_pem();  // a newer base the delta below builds on, which easgate doesn't have
    EXPECT_NE(verify(issuing.cert_pem(), {expired_base, issuing.delta_crl_pem()}, leaf), "");
}

TEST_F(TrustStoreTest, ARevocationIsExplainedWithItsCrlAndDate) {
    const auto leaf = device();
    issuing.revoke(leaf);
    const auto text = verify(issuing.cert_pem(), {issuing.crl_pem()}, leaf);
    EXPECT_EQ(
        text.rfind("certificate revoked: listed by the CRL of \"CN=Corp Issuing CA\" (nextUpdate 20", 0), 0u)
        << text;
    EXPECT_NE(text.find(") as revoked on 20"), std::string::npos) << text;
    EXPECT_EQ(text.find("reason"), std::string::npos) << text;  // the entry gives none
}

// A lost phone (key compromise) and a suspended one (on hold, which the CA can release) read
// differently in the log.
TEST_F(TrustStoreTest, ARevocationNamesTheReasonTheCaGave) {
    const auto lost = device();
    const auto suspended = device();
    const auto odd = device();
    issuing.revoke(lost, CRL_REASON_KEY_COMPROMISE);
    issuing.revoke(suspended, CRL_REASON_CERTIFICATE_HOLD);
    issuing.revoke(odd, 7);  // unassigned in RFC 5280
    const auto crl = issuing.crl_pem();
    EXPECT_NE(verify(issuing.cert_pem(), {crl}, lost).find("Z, reason keyCompromise"), std::string::npos);
    EXPECT_NE(
        verify(issuing.cert_pem(), {crl}, suspended).find(", reason certificateHold (the CA can release it)"),
        std::string::npos);
    EXPECT_NE(verify(issuing.cert_pem(), {crl}, odd).find(", reason code 7"), std::string::npos);
}

// An AD CS issuing CA renewed with a new key: a second certificate of the same name, and a CRL
// for each key ("Corp Issuing CA.crl", "Corp Issuing CA(1).crl"), each deciding only for the
// devices its key issued, even where a serial appears under both.
TEST_F(TrustStoreTest, ARenewedIssuingCaKeyHasItsOwnCrl) {
    const auto renewed = root.create_intermediate("Corp Issuing CA");
    const auto old_device = device();
    CertSpec spec;
    spec.upn = "bob@corp.example";
    const auto new_device = renewed.issue(spec);
    const auto trusted = issuing.cert_pem() + renewed.cert_pem() + root.cert_pem();
    EXPECT_EQ(verify(trusted, {issuing.crl_pem(), renewed.crl_pem(), root.crl_pem()}, old_device), "");
    EXPECT_EQ(verify(trusted, {issuing.crl_pem(), renewed.crl_pem(), root.crl_pem()}, new_device), "");

    auto other_key = root.create_intermediate("Corp Issuing CA");  // lists the old key's serial only
    other_key.revoke(old_device);
    EXPECT_EQ(verify(trusted, {issuing.crl_pem(), renewed.crl_pem(), root.crl_pem()}, old_device), "");

    issuing.revoke(old_device);
    EXPECT_TRUE(revoked(verify(trusted, {issuing.crl_pem(), renewed.crl_pem(), root.crl_pem()}, old_device)));
    EXPECT_EQ(verify(trusted, {issuing.crl_pem(), renewed.crl_pem(), root.crl_pem()}, new_device), "");

    // The renewed key's CRL missing: its devices are refused, and the log says which CRL is missing.
    const auto renewed_key =
        key_id_text(X509_get0_subject_key_id(testing::parse_certificate_pem(renewed.cert_pem()).get()));
    ASSERT_EQ(renewed_key.size(), 59u);  // 20 bytes as AB:CD:…
    EXPECT_EQ(
        verify(trusted, {issuing.crl_pem(), root.crl_pem()}, new_device),
        "unable to get certificate CRL: no CRL of \"CN=Corp Issuing CA\" from the key that issued this "
        "certificate (" +
            renewed_key +
            ") is loaded, only from another key of that CA (a CA renewed with "
            "a new key publishes a CRL for each; AD CS names the renewed key's \"<CA name>(1).crl\"): add it "
            "to client_auth.crl_files or turn on client_auth.crl_refresh");
    EXPECT_EQ(verify(trusted, {renewed.crl_pem(), root.crl_pem()}, old_device)
                  .rfind("unable to get certificate CRL: no CRL of \"CN=Corp Issuing CA\" from the key", 0),
              0u);
}

// A delta CRL of the renewed key listing an old-key device's serial is not named as what revoked it.
TEST_F(TrustStoreTest, ARevocationIsExplainedByACrlOfTheIssuingKey) {
    auto renewed = root.create_intermediate("Corp Issuing CA");
    issuing.publish_at("http://127.0.0.1:1/issuing.crl", "http://127.0.0.1:1/issuing-delta.crl");
    renewed.publish_at("http://127.0.0.1:1/issuing(1).crl", "http://127.0.0.1:1/issuing(1)-delta.crl");
    const auto leaf = device();
    const auto base = issuing.crl_pem();
    const auto renewed_base = renewed.crl_pem();
    issuing.revoke(leaf, CRL_REASON_KEY_COMPROMISE);
    renewed.revoke(leaf.serial_hex, CRL_REASON_AFFILIATION_CHANGED);
    for (const auto& crls :
         {std::vector{renewed_base, renewed.delta_crl_pem(), base, issuing.delta_crl_pem()},
          std::vector{base, issuing.delta_crl_pem(), renewed_base, renewed.delta_crl_pem()}}) {
        const auto text = verify(issuing.cert_pem() + renewed.cert_pem(), crls, leaf);
        EXPECT_NE(text.find("listed by the delta CRL"), std::string::npos) << text;
        EXPECT_NE(text.find("reason keyCompromise"), std::string::npos) << text;
    }
}

TEST_F(TrustStoreTest, TheTrustFileTellsLinksFromAnchorsAndCrlsFindTheirSigner) {
    const auto path = dir / "trusted.pem";
    testing::write_file(path, issuing.cert_pem() + root.cert_pem());
    const auto cas = read_pem_certificates(path.string());
    ASSERT_EQ(cas.size(), 2u);
    EXPECT_TRUE(is_chain_link(cas[0].get(), cas));   // the issuing CA, its root listed
    EXPECT_FALSE(is_chain_link(cas[1].get(), cas));  // the root
    EXPECT_FALSE(is_chain_link(cas[0].get(), {}));   // the issuing CA listed alone is an anchor
    EXPECT_EQ(crl_signer(parse_crls(root.crl_pem()).front().get(), cas), cas[1].get());
    EXPECT_EQ(crl_signer(parse_crls(issuing.crl_pem()).front().get(), cas), cas[0].get());
    const auto rogue = TestCa::create_root("Corp Root CA");  // the same name, another key
    EXPECT_EQ(crl_signer(parse_crls(rogue.crl_pem()).front().get(), cas), nullptr);
    EXPECT_TRUE(read_pem_certificates((dir / "absent.pem").string()).empty());
}

}  // namespace
}  // namespace easgate::identity
