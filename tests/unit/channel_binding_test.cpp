#include "easgate/upstream/channel_binding.hpp"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "test_pki.hpp"

namespace easgate::upstream {
namespace {

TEST(ChannelBinding, TlsServerEndPointIsThePrefixAndTheCertificatesSha256) {
    const auto ca = testing::TestCa::create_root("channel binding test CA");  // signs with SHA-256
    testing::CertSpec spec;
    spec.common_name = "mail.example.test";
    const auto issued = ca.issue(spec);
    const unsigned char* der = issued.der.data();
    X509* certificate = d2i_X509(nullptr, &der, static_cast<long>(issued.der.size()));
    ASSERT_NE(certificate, nullptr);

    unsigned char hash[EVP_MAX_MD_SIZE];
    unsigned int length = 0;
    ASSERT_EQ(EVP_Digest(issued.der.data(), issued.der.size(), hash, &length, EVP_sha256(), nullptr), 1);
    EXPECT_EQ(tls_server_end_point(certificate),
              "tls-server-end-point:" + std::string(reinterpret_cast<const char*>(hash), length));
    X509_free(certificate);
}

}  // namespace
}  // namespace easgate::upstream
