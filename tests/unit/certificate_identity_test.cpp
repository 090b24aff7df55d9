#include "easgate/identity/certificate_identity.hpp"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <memory>
#include <string>

#include "certificate_identity_fixture.hpp"
#include "test_pki.hpp"

namespace {

using easgate::identity::extract_identity;
using easgate::identity::extract_identity_from_der;
using easgate::identity::IdentityResult;
using easgate::identity::test::adcs_sid_extension;
using easgate::identity::test::Bytes;
using easgate::identity::test::CertificateIdentityTest;
using easgate::identity::test::domain_user_sid;
using easgate::identity::test::octet_string;
using easgate::identity::test::sid_entry;
using easgate::identity::test::sid_url;
using easgate::identity::test::spec_with_upn;
using easgate::testing::CertSpec;
using easgate::testing::der_text;
using easgate::testing::der_tlv;
using easgate::testing::IssuedCert;
using easgate::testing::sid_extension_oid;

struct X509Deleter {
    void operator()(X509* cert) const { X509_free(cert); }
};
using X509Ptr = std::unique_ptr<X509, X509Deleter>;

X509Ptr parse(const Bytes& der) {
    const unsigned char* cursor = der.data();
    return X509Ptr(d2i_X509(nullptr, &cursor, static_cast<long>(der.size())));
}

std::string lower_hex(const unsigned char* bytes, std::size_t size) {
    static constexpr char digits[] = "0123456789abcdef";
    std::string hex;
    for (std::size_t index = 0; index < size; ++index) {
        hex += digits[bytes[index] >> 4];
        hex += digits[bytes[index] & 0x0f];
    }
    return hex;
}

std::string digest_hex(const Bytes& der, const EVP_MD* digest) {
    unsigned char hash[EVP_MAX_MD_SIZE];
    unsigned int length = 0;
    EXPECT_EQ(EVP_Digest(der.data(), der.size(), hash, &length, digest, nullptr), 1);
    return lower_hex(hash, length);
}

// The value of the extension with this OID in an issued certificate, read back with OpenSSL.
Bytes extension_value(const IssuedCert& cert, const std::string& dotted_oid) {
    const X509Ptr parsed = parse(cert.der);
    for (int index = 0; index < X509_get_ext_count(parsed.get()); ++index) {
        X509_EXTENSION* extension = X509_get_ext(parsed.get(), index);
        char oid[80];
        OBJ_obj2txt(oid, sizeof oid, X509_EXTENSION_get_object(extension), 1);
        if (oid != dotted_oid) continue;
        const ASN1_OCTET_STRING* value = X509_EXTENSION_get_data(extension);
        const unsigned char* bytes = ASN1_STRING_get0_data(value);
        return Bytes(bytes, bytes + ASN1_STRING_length(value));
    }
    return {};
}

TEST_F(CertificateIdentityTest, UpnCertificateYieldsTheFullIdentity) {
    CertSpec spec = spec_with_upn("alice@corp.example");
    spec.common_name = "alice-phone";
    spec.emails = {"alice@example.com", "a.smith@example.com"};
    spec.dns_names = {"ignored.example"};
    spec.ip_addresses = {"192.0.2.1"};
    const IssuedCert cert = issue(spec);

    const IdentityResult result = extract_identity_from_der(cert.der);

    ASSERT_TRUE(result) << result.error;
    EXPECT_TRUE(result.error.empty());
    const auto& identity = *result.identity;
    EXPECT_EQ(identity.upn, "alice@corp.example");
    EXPECT_EQ(identity.principal_name(), "alice@corp.example");
    EXPECT_EQ(identity.emails, (std::vector<std::string>{"alice@example.com", "a.smith@example.com"}));
    EXPECT_EQ(identity.sid, "");
    EXPECT_EQ(identity.subject, "CN=alice-phone");
    EXPECT_EQ(identity.issuer, "CN=easgate test issuing CA");
    EXPECT_EQ(identity.serial, cert.serial_hex);
    EXPECT_EQ(identity.sha1_fingerprint, digest_hex(cert.der, EVP_sha1()));
    EXPECT_EQ(identity.sha256_fingerprint, digest_hex(cert.der, EVP_sha256()));
    const X509Ptr parsed = parse(cert.der);
    const ASN1_OCTET_STRING* key_id = X509_get0_subject_key_id(parsed.get());
    ASSERT_NE(key_id, nullptr);
    EXPECT_EQ(identity.subject_key_id,
              lower_hex(ASN1_STRING_get0_data(key_id), static_cast<std::size_t>(ASN1_STRING_length(key_id))));
    EXPECT_EQ(identity.subject_key_id.size(), 40u);
}

// notBefore to the second, for KB5014754's "certificate older than its account".
TEST_F(CertificateIdentityTest, NotBeforeIsTheCertificatesOwn) {
    CertSpec spec = spec_with_upn("alice@corp.example");
    spec.not_before = -std::chrono::days(400);
    const auto before = std::chrono::system_clock::now();
    const auto result = extract_identity_from_der(issue(spec).der);
    ASSERT_TRUE(result) << result.error;
    const auto expected = before - std::chrono::days(400);
    EXPECT_LE(std::chrono::abs(result.identity->not_before - expected), std::chrono::seconds(2));
}

TEST_F(CertificateIdentityTest, ExtractFromX509MatchesExtractFromDer) {
    CertSpec spec = spec_with_upn("alice@corp.example");
    spec.sid = domain_user_sid;
    const IssuedCert cert = issue(spec);
    const X509Ptr parsed = parse(cert.der);

    const IdentityResult from_x509 = extract_identity(parsed.get());
    const IdentityResult from_der = extract_identity_from_der(cert.der);

    ASSERT_TRUE(from_x509) << from_x509.error;
    ASSERT_TRUE(from_der) << from_der.error;
    EXPECT_EQ(from_x509.identity->upn, from_der.identity->upn);
    EXPECT_EQ(from_x509.identity->sid, from_der.identity->sid);
    EXPECT_EQ(from_x509.identity->sha256_fingerprint, from_der.identity->sha256_fingerprint);
}

TEST_F(CertificateIdentityTest, EmailOnlyCertificateUsesTheFirstEmailAsPrincipal) {
    CertSpec spec;
    spec.emails = {"bob@example.com", "robert@example.com"};

    const IdentityResult result = extract(spec);

    ASSERT_TRUE(result) << result.error;
    EXPECT_EQ(result.identity->upn, "");
    EXPECT_EQ(result.identity->principal_name(), "bob@example.com");
}

TEST_F(CertificateIdentityTest, SubjectIsEscapedPerRfc2253) {
    CertSpec spec = spec_with_upn("alice@corp.example");
    spec.common_name = "Smith, Alice+1";

    const IdentityResult result = extract(spec);

    ASSERT_TRUE(result) << result.error;
    EXPECT_EQ(result.identity->subject, "CN=Smith\\, Alice\\+1");
}

TEST_F(CertificateIdentityTest, SidCertificateYieldsTheSid) {
    CertSpec spec = spec_with_upn("alice@corp.example");
    spec.sid = domain_user_sid;

    const IdentityResult result = extract(spec);

    ASSERT_TRUE(result) << result.error;
    EXPECT_EQ(result.identity->sid, domain_user_sid);
}

TEST_F(CertificateIdentityTest, TestPkiWritesTheSidExtensionAsAdcsDoes) {
    CertSpec spec = spec_with_upn("alice@corp.example");
    spec.sid = "S-1-5-21-1-2-3-1104";

    const IssuedCert cert = issue(spec);

    EXPECT_EQ(extension_value(cert, sid_extension_oid), adcs_sid_extension);
}

TEST_F(CertificateIdentityTest, AdcsEncodedSidExtensionIsRead) {
    const IdentityResult result = extract_with_sid_extension(adcs_sid_extension);

    ASSERT_TRUE(result) << result.error;
    EXPECT_EQ(result.identity->sid, "S-1-5-21-1-2-3-1104");
}

TEST_F(CertificateIdentityTest, SidExtensionEntriesOtherThanTheSidAreSkipped) {
    const IdentityResult result = extract_with_sid_extension(der_tlv(
        0x30, {der_tlv(0x82, {der_text("dc.corp.example")}), sid_entry(octet_string(domain_user_sid))}));

    ASSERT_TRUE(result) << result.error;
    EXPECT_EQ(result.identity->sid, domain_user_sid);
}

// The SID the admin guide's example of the SAN URL form names.
constexpr const char* sid_in_url = "S-1-5-21-1004336348-1177238915-682003330-512";

TEST_F(CertificateIdentityTest, SidUrlCertificateYieldsTheSid) {
    const IdentityResult result = extract_with_uris({sid_url(sid_in_url)});

    ASSERT_TRUE(result) << result.error;
    EXPECT_EQ(result.identity->sid, sid_in_url);
    EXPECT_EQ(result.identity->upn, "alice@corp.example");
}

TEST_F(CertificateIdentityTest, SidUrlPrefixIsMatchedIgnoringCase) {
    const IdentityResult result =
        extract_with_uris({"TAG:Microsoft.COM,2022-09-14:SID:" + std::string(sid_in_url)});

    ASSERT_TRUE(result) << result.error;
    EXPECT_EQ(result.identity->sid, sid_in_url);
}

// The same SID in several places names one user, so it is no ambiguity.
TEST_F(CertificateIdentityTest, SameSidTwiceIsAccepted) {
    const IdentityResult with_extension = extract_with_uris({sid_url(domain_user_sid)}, domain_user_sid);
    ASSERT_TRUE(with_extension) << with_extension.error;
    EXPECT_EQ(with_extension.identity->sid, domain_user_sid);

    const IdentityResult two_urls = extract_with_uris({sid_url(domain_user_sid), sid_url(domain_user_sid)});
    ASSERT_TRUE(two_urls) << two_urls.error;
    EXPECT_EQ(two_urls.identity->sid, domain_user_sid);
}

// Devices carry URIs of their own (Intune's IntuneDeviceId://, an enrolment URL): neither a SID nor
// a reason to refuse, even when they look almost like the SID URL.
TEST_F(CertificateIdentityTest, OtherUrisAreIgnored) {
    const IdentityResult result = extract_with_uris({"https://phone.corp.example/enroll?sid=garbage",
                                                     "IntuneDeviceId://0b4e1c6a-2f1d-4c2e-9d8a-5f6e7a8b9c0d",
                                                     "tag:microsoft.com,2022-09-14:sidS-1-5-21-1-2-3-500",
                                                     "tag:example.com,2022-09-14:sid:not-a-sid",
                                                     sid_url(sid_in_url), "urn:uuid:garbage"});

    ASSERT_TRUE(result) << result.error;
    EXPECT_EQ(result.identity->sid, sid_in_url);
}

}  // namespace
