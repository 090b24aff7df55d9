// ServerTlsContext::verify_certificate, which `easgate doctor --certificate` relies on: the same
// verdict and explanation a device's TLS handshake on that listener gets.
#include <gtest/gtest.h>

#include "child_process.hpp"
#include "easgate/listener/tls_context.hpp"
#include "inproc_rig.hpp"
#include "test_pki.hpp"

namespace easgate::testing {
namespace {

class VerifyCertificateTest : public ::testing::Test {
protected:
    ~VerifyCertificateTest() override { std::filesystem::remove_all(dir); }

    // The verdict of a listener trusting trusted_pem (with crl_pems, if any) on the device.
    listener::ClientCertificateCheck verify(const std::string& trusted_pem,
                                            const std::vector<std::string>& crl_pems,
                                            const IssuedCert& device,
                                            const std::string& chain_pem = {}) const {
        auto listener = loopback_listener();
        listener.client_auth.trusted_ca_file = (dir / "trusted.pem").string();
        write_file(listener.client_auth.trusted_ca_file, trusted_pem);
        for (std::size_t i = 0; i < crl_pems.size(); ++i) {
            listener.client_auth.crl_files.push_back((dir / ("ca-" + std::to_string(i) + ".crl")).string());
            write_file(listener.client_auth.crl_files.back(), crl_pems[i]);
        }
        const listener::ServerTlsContext context(listener, "listeners[0]");
        const auto leaf = parse_certificate_pem(device.cert_pem);
        STACK_OF(X509)* untrusted = sk_X509_new_null();
        const auto intermediate = parse_certificate_pem(chain_pem);
        if (intermediate) sk_X509_push(untrusted, intermediate.get());
        auto check = context.verify_certificate(leaf.get(), untrusted);
        sk_X509_free(untrusted);
        return check;
    }

    static CertSpec alice() {
        CertSpec spec;
        spec.upn = "alice@example.test";
        return spec;
    }

    std::filesystem::path dir = make_temp_dir("verify-certificate");
    TestCa root = TestCa::create_root("Verify Root CA");
    TestCa issuing = root.create_intermediate("Verify Issuing CA");
};

TEST_F(VerifyCertificateTest, AGoodDeviceIsAcceptedWithItsIdentity) {
    const auto check = verify(issuing.cert_pem() + root.cert_pem(), {root.crl_pem(), issuing.crl_pem()},
                              issuing.issue(alice()));
    EXPECT_EQ(check.refusal, "");
    ASSERT_TRUE(check.identity);
    EXPECT_EQ(check.identity->upn, "alice@example.test");
}

TEST_F(VerifyCertificateTest, ARevokedDeviceIsRefusedNamingTheCrl) {
    const auto device = issuing.issue(alice());
    issuing.revoke(device);
    const auto check =
        verify(issuing.cert_pem() + root.cert_pem(), {root.crl_pem(), issuing.crl_pem()}, device);
    EXPECT_EQ(check.verify_error, X509_V_ERR_CERT_REVOKED);
    EXPECT_EQ(check.refusal.rfind("certificate revoked: listed by the CRL of \"CN=Verify Issuing CA\"", 0),
              0u)
        << check.refusal;
}

TEST_F(VerifyCertificateTest, ADeviceOfAnotherCaIsRefusedNamingItsIssuer) {
    const auto check =
        verify(issuing.cert_pem() + root.cert_pem(), {}, TestCa::create_root("Other CA").issue(alice()));
    EXPECT_EQ(check.verify_error, X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY);
    EXPECT_NE(check.refused_certificate.find("issuer=\"CN=Other CA\""), std::string::npos)
        << check.refused_certificate;
}

TEST_F(VerifyCertificateTest, ADeviceWithoutClientAuthenticationEkuIsRefused) {
    auto spec = alice();
    spec.client_auth_eku = false;
    const auto check = verify(issuing.cert_pem() + root.cert_pem(), {}, issuing.issue(spec));
    EXPECT_EQ(check.verify_error, X509_V_ERR_INVALID_PURPOSE);
}

TEST_F(VerifyCertificateTest, TheChainTheDeviceSendsIsUsedButNotTrusted) {
    const auto device = issuing.issue(alice());
    EXPECT_EQ(verify(root.cert_pem(), {}, device, issuing.cert_pem()).refusal, "");
    EXPECT_NE(verify(root.cert_pem(), {}, device).refusal, "");
}

}  // namespace
}  // namespace easgate::testing
