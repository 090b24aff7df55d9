// ServerTlsContext::verify_certificate, which `easgate doctor --certificate` relies on: the same
// verdict and explanation a device's TLS handshake on that listener gets.
#include <gtest/gtest.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>

#include <memory>

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
                                            const IssuedCert& device, const std::string& chain_pem = {},
                                            identity::UserNames names = identity::UserNames::required) const {
        auto listener = loopback_listener();
        listener.client_auth.trusted_ca_file = (dir / "trusted.pem").string();
        listener.client_auth.issuers = issuers;
        write_file(listener.client_auth.trusted_ca_file, trusted_pem);
        for (std::size_t i = 0; i < crl_pems.size(); ++i) {
            listener.client_auth.crl_files.push_back((dir / ("ca-" + std::to_string(i) + ".crl")).string());
            write_file(listener.client_auth.crl_files.back(), crl_pems[i]);
        }
        const listener::ServerTlsContext context(listener, "listeners[0]", names);
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

    config::DeviceIssuers issuers = config::DeviceIssuers::listed;  // client_auth.issuers
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

// OpenSSL reads no delta CRL's dates and goes by the base alone without one: where the CA publishes
// deltas, a stale or missing delta must refuse as an expired base does, or a device revoked since
// the base was published passes for the rest of the base's week.
TEST_F(VerifyCertificateTest, WhereTheCaPublishesDeltasAStaleOrMissingDeltaRefuses) {
    issuing.publish_at("http://127.0.0.1:1/issuing.crl", "http://127.0.0.1:1/issuing-delta.crl");
    const auto device = issuing.issue(alice());
    const std::string trusted = issuing.cert_pem() + root.cert_pem();
    const auto base = issuing.crl_pem(std::chrono::hours(24 * 7));
    EXPECT_EQ(verify(trusted, {root.crl_pem(), base, issuing.delta_crl_pem()}, device).refusal, "");

    const auto stale =
        verify(trusted, {root.crl_pem(), base, issuing.delta_crl_pem(-std::chrono::hours(1))}, device);
    EXPECT_EQ(stale.verify_error, X509_V_ERR_CRL_HAS_EXPIRED);
    EXPECT_EQ(stale.refusal.rfind("delta CRL has expired: the delta CRL of \"CN=Verify Issuing CA\" was due "
                                  "for renewal at 20",
                                  0),
              0u)
        << stale.refusal;

    const auto missing = verify(trusted, {root.crl_pem(), base}, device);
    EXPECT_EQ(missing.verify_error, X509_V_ERR_UNABLE_TO_GET_CRL);
    EXPECT_EQ(missing.refusal.rfind(
                  "unable to get delta CRL: the base CRL of \"CN=Verify Issuing CA\" names a delta CRL "
                  "(Freshest CRL: http://127.0.0.1:1/issuing-delta.crl) and none is loaded",
                  0),
              0u)
        << missing.refusal;
    EXPECT_NE(missing.refused_certificate.find("subject=\"CN=device\""), std::string::npos)
        << missing.refused_certificate;

    // A base fetched before its delta: the older delta still counts while in date (the base holds
    // what it listed). A delta for a newer base than the one held does not: the base held misses what
    // the newer one listed, and OpenSSL would not add that delta.
    const auto for_this_base = issuing.delta_crl_pem();
    const auto newer_base = issuing.crl_pem(std::chrono::hours(24 * 7));
    const auto for_the_newer_base = issuing.delta_crl_pem();
    EXPECT_EQ(verify(trusted, {root.crl_pem(), newer_base, for_this_base}, device).refusal, "");
    EXPECT_EQ(verify(trusted, {root.crl_pem(), newer_base, for_the_newer_base}, device).refusal, "");
    const auto unfitting = verify(trusted, {root.crl_pem(), base, for_the_newer_base}, device);
    EXPECT_EQ(
        unfitting.refusal.rfind("unable to get delta CRL: the delta CRL of \"CN=Verify Issuing CA\" held "
                                "was published for a newer base CRL than the one held",
                                0),
        0u)
        << unfitting.refusal;

    // A delta OpenSSL won't add to its base (no AKID beside a base with one; AD CS's IDP extensions
    // can differ the same way): what it lists still refuses.
    const auto revoked = issuing.issue(alice());
    issuing.revoke(revoked);
    const auto unpaired = verify(
        trusted, {root.crl_pem(), newer_base, issuing.delta_crl_pem(std::chrono::hours(24), false)}, revoked);
    EXPECT_EQ(unpaired.verify_error, X509_V_ERR_CERT_REVOKED);
    EXPECT_EQ(
        unpaired.refusal.rfind("certificate revoked: listed by the delta CRL of \"CN=Verify Issuing CA\"", 0),
        0u)
        << unpaired.refusal;

    // Without revocation checks (no CRLs configured), nothing is asked of deltas.
    EXPECT_EQ(verify(trusted, {}, device).refusal, "");
}

// A certificate names where its CA published deltas when it was issued; the CA's current base CRL
// says whether it still does. A CA that stopped (its base names no Freshest CRL) leaves its older
// devices accepted on the base alone.
TEST_F(VerifyCertificateTest, ACertificatesOwnFreshestCrlDemandsNoDeltaOfACaThatStopped) {
    auto spec = alice();
    const auto uri = der_tlv(0x86, {der_text("http://127.0.0.1:1/issuing-delta.crl")});
    spec.extra_extensions.push_back(
        {"2.5.29.46",  // Freshest CRL: one distribution point, fullName with the URI
         der_tlv(0x30, {der_tlv(0x30, {der_tlv(0xa0, {der_tlv(0xa0, {uri})})})})});
    const auto device = issuing.issue(spec);
    issuing.publish_at("http://127.0.0.1:1/issuing.crl");  // deltas no longer published
    EXPECT_EQ(
        verify(issuing.cert_pem() + root.cert_pem(), {root.crl_pem(), issuing.crl_pem()}, device).refusal,
        "");
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

// A certificate naming no user passes only a listener whose configuration finds accounts without a
// name (identity.mapping with sid or alt_security_identities, and a directory).
TEST_F(VerifyCertificateTest, ACertificateNamingNoUserPassesOnlyWhereNamesAreOptional) {
    CertSpec nameless;
    nameless.sid = "S-1-5-21-1004336348-1177238915-682003330-1105";
    const auto device = issuing.issue(nameless);
    const auto trusted = issuing.cert_pem() + root.cert_pem();
    const auto required = verify(trusted, {}, device);
    EXPECT_EQ(required.verify_error, X509_V_ERR_APPLICATION_VERIFICATION);
    EXPECT_NE(required.refusal.find("certificate has no UPN"), std::string::npos) << required.refusal;
    const auto optional = verify(trusted, {}, device, {}, identity::UserNames::optional);
    EXPECT_EQ(optional.refusal, "");
    ASSERT_TRUE(optional.identity);
    EXPECT_EQ(optional.identity->sid, *nameless.sid);
}

TEST_F(VerifyCertificateTest, TheChainTheDeviceSendsIsUsedButNotTrusted) {
    const auto device = issuing.issue(alice());
    const auto by_default = verify(root.cert_pem(), {}, device, issuing.cert_pem());
    EXPECT_NE(by_default.refusal.find("issued by \"CN=Verify Issuing CA\", a CA not listed"),
              std::string::npos)
        << by_default.refusal;
    EXPECT_EQ(by_default.verify_error, X509_V_ERR_CERT_UNTRUSTED);
    EXPECT_FALSE(by_default.identity);
    issuers = config::DeviceIssuers::any_below_listed;
    EXPECT_EQ(verify(root.cert_pem(), {}, device, issuing.cert_pem()).refusal, "");
    EXPECT_NE(verify(root.cert_pem(), {}, device).refusal, "");
}

// A device's handshake on a listener trusting trusted_pem, the device sending its issuing CA
// along (as Android phones do), in memory; returns what the handshake left in the server's SSL.
class DeviceHandshakeTest : public VerifyCertificateTest {
protected:
    using SslPtr = common::OpenSslPtr<SSL, SSL_free>;

    void handshake(const std::string& trusted_pem) {
        auto listener = loopback_listener();
        listener.client_auth.trusted_ca_file = (dir / "trusted.pem").string();
        listener.client_auth.issuers = issuers;
        write_file(listener.client_auth.trusted_ca_file, trusted_pem);
        context = std::make_unique<listener::ServerTlsContext>(listener, "listeners[0]");
        const auto device = issuing.issue(alice());
        const common::OpenSslPtr<SSL_CTX, SSL_CTX_free> client_tls(SSL_CTX_new(TLS_client_method()));
        const auto leaf = parse_certificate_pem(device.cert_pem);
        const auto issuing_ca = parse_certificate_pem(issuing.cert_pem());
        const common::OpenSslPtr<BIO, BIO_free> key_pem(
            BIO_new_mem_buf(device.key_pem.data(), static_cast<int>(device.key_pem.size())));
        const common::OpenSslPtr<EVP_PKEY, EVP_PKEY_free> key(
            PEM_read_bio_PrivateKey(key_pem.get(), nullptr, nullptr, nullptr));
        ASSERT_EQ(SSL_CTX_use_certificate(client_tls.get(), leaf.get()), 1);
        ASSERT_EQ(SSL_CTX_use_PrivateKey(client_tls.get(), key.get()), 1);
        ASSERT_EQ(SSL_CTX_add1_chain_cert(client_tls.get(), issuing_ca.get()), 1);
        server.reset(SSL_new(context->context().native_handle()));
        client.reset(SSL_new(client_tls.get()));
        context->verify_into(server.get(), check);
        BIO* client_end = nullptr;
        BIO* server_end = nullptr;
        ASSERT_EQ(BIO_new_bio_pair(&client_end, 0, &server_end, 0), 1);
        SSL_set_bio(client.get(), client_end, client_end);
        SSL_set_bio(server.get(), server_end, server_end);
        SSL_set_connect_state(client.get());
        SSL_set_accept_state(server.get());
        bool client_done = false;
        bool server_done = false;
        for (int round = 0; round < 10 && !(client_done && server_done); ++round) {
            client_done = client_done || SSL_do_handshake(client.get()) == 1;
            server_done = server_done || SSL_do_handshake(server.get()) == 1;
        }
        ASSERT_TRUE(client_done && server_done) << check.refusal;
        ASSERT_EQ(check.refusal, "");
    }

    // Whether cert is the very object trusted_ca_file was loaded into, not a copy of it.
    bool is_listed_object(X509* cert) const {
        const auto store = context->revocation()->current();
        STACK_OF(X509_OBJECT)* objects = X509_STORE_get0_objects(store.get());
        for (int i = 0; i < sk_X509_OBJECT_num(objects); ++i) {
            if (X509_OBJECT_get0_X509(sk_X509_OBJECT_value(objects, i)) == cert) return true;
        }
        return false;
    }

    std::unique_ptr<listener::ServerTlsContext> context;
    listener::ClientCertificateCheck check;
    SslPtr server;
    SslPtr client;
};

// The session keeps one decoded certificate fewer per device: the listed issuing CA itself.
TEST_F(DeviceHandshakeTest, TheIssuingCaTheDeviceSendsIsKeptAsTheListedOne) {
    handshake(issuing.cert_pem() + root.cert_pem());
    STACK_OF(X509)* sent = SSL_get_peer_cert_chain(server.get());
    ASSERT_EQ(sk_X509_num(sent), 1);
    EXPECT_EQ(X509_cmp(sk_X509_value(sent, 0), parse_certificate_pem(issuing.cert_pem()).get()), 0);
    EXPECT_TRUE(is_listed_object(sk_X509_value(sent, 0)));
    EXPECT_FALSE(is_listed_object(SSL_get0_peer_certificate(server.get())));
    ASSERT_TRUE(check.identity);
    EXPECT_EQ(check.identity->upn, "alice@example.test");
}

// With only the root listed, the device's issuing CA is what a resumed session is checked with.
TEST_F(DeviceHandshakeTest, AnIssuingCaNotListedStaysTheDevicesOwn) {
    issuers = config::DeviceIssuers::any_below_listed;
    handshake(root.cert_pem());
    STACK_OF(X509)* sent = SSL_get_peer_cert_chain(server.get());
    ASSERT_EQ(sk_X509_num(sent), 1);
    EXPECT_EQ(X509_cmp(sk_X509_value(sent, 0), parse_certificate_pem(issuing.cert_pem()).get()), 0);
    EXPECT_FALSE(is_listed_object(sk_X509_value(sent, 0)));
    EXPECT_EQ(context->verify_certificate(SSL_get0_peer_certificate(server.get()), sent).refusal, "");
}

}  // namespace
}  // namespace easgate::testing
