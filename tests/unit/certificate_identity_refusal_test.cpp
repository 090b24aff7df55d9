#include <gtest/gtest.h>
#include <openssl/err.h>

#include <ostream>
#include <string>
#include <vector>

#include "certificate_identity_fixture.hpp"
#include "easgate/identity/certificate_identity.hpp"
#include "test_pki.hpp"

namespace {

using easgate::identity::extract_identity;
using easgate::identity::extract_identity_from_der;
using easgate::identity::IdentityResult;
using easgate::identity::max_name_bytes;
using easgate::identity::test::adcs_sid_extension;
using easgate::identity::test::Bytes;
using easgate::identity::test::CertificateIdentityTest;
using easgate::identity::test::domain_user_sid;
using easgate::identity::test::email_entry;
using easgate::identity::test::octet_string;
using easgate::identity::test::sid_entry;
using easgate::identity::test::sid_url;
using easgate::identity::test::spec_with_upn;
using easgate::identity::test::upn_entry;
using easgate::identity::test::utf8_string;
using easgate::testing::CertSpec;
using easgate::testing::der_text;
using easgate::testing::der_tlv;
using easgate::testing::IssuedCert;
using easgate::testing::RawExtension;
using easgate::testing::sid_extension_oid;
using easgate::testing::subject_alt_name_oid;

TEST_F(CertificateIdentityTest, CertificateWithoutUpnOrEmailIsRefused) {
    CertSpec server_names_only;
    server_names_only.dns_names = {"device.example"};
    server_names_only.ip_addresses = {"192.0.2.1"};

    for (const CertSpec& spec : {server_names_only, CertSpec{}}) {
        const IdentityResult result = extract(spec);

        EXPECT_FALSE(result);
        EXPECT_FALSE(result.identity.has_value());
        EXPECT_EQ(
            result.error,
            "certificate has no UPN (SAN otherName 1.3.6.1.4.1.311.20.2.3) and no email (SAN rfc822Name), "
            "and easgate has no other way to find its user (with a directory, list sid or "
            "alt_security_identities in identity.mapping to find accounts by the certificate's SID or in "
            "altSecurityIdentities)");
    }
}

// Where identity.mapping can find the account by the SID or in altSecurityIdentities, a certificate
// naming no user is read all the same: it has no principal name, and logs name it by its subject.
TEST_F(CertificateIdentityTest, CertificateWithoutUpnOrEmailIsReadWhereNamesAreOptional) {
    using easgate::identity::UserNames;
    CertSpec sid_only;
    sid_only.sid = domain_user_sid;
    const auto result = extract_identity_from_der(issue(sid_only).der, UserNames::optional);
    ASSERT_TRUE(result) << result.error;
    EXPECT_EQ(result.identity->sid, domain_user_sid);
    EXPECT_EQ(result.identity->principal_name(), "");
    EXPECT_EQ(result.identity->display_name(), "CN=device");
    EXPECT_FALSE(result.identity->sha1_fingerprint.empty()) << "what altSecurityIdentities is searched by";

    const auto named =
        extract_identity_from_der(issue(spec_with_upn("alice@corp.example.com")).der, UserNames::optional);
    ASSERT_TRUE(named) << named.error;
    EXPECT_EQ(named.identity->display_name(), "alice@corp.example.com");
    EXPECT_FALSE(extract_identity_from_der(issue(sid_only).der)) << "names are required by default";
}

struct BadName {
    std::string description;
    std::string name;
    std::string expected_error;
};

void PrintTo(const BadName& bad_name, std::ostream* out) { *out << bad_name.description; }

class BadUpnTest : public CertificateIdentityTest, public ::testing::WithParamInterface<BadName> {};

TEST_P(BadUpnTest, IsRefused) {
    const IdentityResult result = extract_with_upn(GetParam().name);

    EXPECT_FALSE(result);
    EXPECT_EQ(result.error, "certificate UPN " + GetParam().expected_error);
}

INSTANTIATE_TEST_SUITE_P(
    Names, BadUpnTest,
    ::testing::Values(BadName{"cr", "alice\r@corp.example", "contains a control character"},
                      BadName{"lf", "alice\n@corp.example", "contains a control character"},
                      BadName{"crlf_injection", "alice@corp.example\r\nX-Injected: 1",
                              "contains a control character"},
                      BadName{"nul", std::string("alice\0@corp.example", 19), "contains a control character"},
                      BadName{"tab", "alice\t@corp.example", "contains a control character"},
                      BadName{"escape", "alice\x1b[2J@corp.example", "contains a control character"},
                      BadName{"del", "alice\x7f@corp.example", "contains a control character"},
                      BadName{"c1_next_line", "alice\xc2\x85@corp.example", "contains a control character"},
                      BadName{"line_separator", "alice\xe2\x80\xa8@corp.example",
                              "contains an invisible formatting character (U+2028)"},
                      BadName{"right_to_left_override", "alice\xe2\x80\xae@corp.example",
                              "contains an invisible formatting character (U+202E)"},
                      BadName{"zero_width_space",
                              "ali\xe2\x80\x8b"
                              "ce@corp.example",
                              "contains an invisible formatting character (U+200B)"},
                      BadName{"byte_order_mark",
                              "\xef\xbb\xbf"
                              "alice@corp.example",
                              "contains an invisible formatting character (U+FEFF)"},
                      BadName{"invalid_utf8", "alice\xff@corp.example", "is not valid UTF-8"},
                      BadName{"overlong_utf8_nul", "alice\xc0\x80@corp.example", "is not valid UTF-8"},
                      BadName{"empty", "", "is empty"},
                      BadName{"too_long", std::string(max_name_bytes + 1, 'a'), "is longer than 256 bytes"}),
    [](const auto& info) { return info.param.description; });

class BadEmailTest : public CertificateIdentityTest, public ::testing::WithParamInterface<BadName> {};

TEST_P(BadEmailTest, IsRefused) {
    CertSpec spec = spec_with_upn("alice@corp.example");
    spec.emails = {"ok@example.com", GetParam().name};

    const IdentityResult result = extract(spec);

    EXPECT_FALSE(result);
    EXPECT_EQ(result.error, "certificate email " + GetParam().expected_error);
}

INSTANTIATE_TEST_SUITE_P(
    Names, BadEmailTest,
    ::testing::Values(BadName{"lf", "bob\n@example.com", "contains a control character"},
                      BadName{"nul", std::string("bob\0@example.com", 16), "contains a control character"},
                      BadName{"non_ascii", "b\xc3\xb6@example.com", "is not ASCII"},
                      BadName{"empty", "", "is empty"},
                      BadName{"too_long", std::string(max_name_bytes + 1, 'b'), "is longer than 256 bytes"}),
    [](const auto& info) { return info.param.description; });

TEST_F(CertificateIdentityTest, NamesOfExactlyTheLimitAreAccepted) {
    const std::string upn = std::string(max_name_bytes - 13, 'a') + "@corp.example";
    const std::string email = std::string(max_name_bytes - 12, 'b') + "@example.com";
    ASSERT_EQ(upn.size(), max_name_bytes);
    ASSERT_EQ(email.size(), max_name_bytes);

    CertSpec spec = spec_with_upn(upn);
    spec.emails = {email};

    const IdentityResult result = extract(spec);

    ASSERT_TRUE(result) << result.error;
    EXPECT_EQ(result.identity->upn, upn);
    EXPECT_EQ(result.identity->emails.front(), email);
}

TEST_F(CertificateIdentityTest, InternationalUpnIsAccepted) {
    const IdentityResult result = extract_with_upn("j\xc3\xbcrgen@corp.example");

    ASSERT_TRUE(result) << result.error;
    EXPECT_EQ(result.identity->upn, "j\xc3\xbcrgen@corp.example");
}

TEST_F(CertificateIdentityTest, TwoUpnsAreRefusedAsAmbiguous) {
    const Bytes san = der_tlv(
        0x30, {upn_entry(utf8_string("alice@corp.example")), upn_entry(utf8_string("admin@corp.example"))});

    const IdentityResult result = extract_with_san(san);

    EXPECT_FALSE(result);
    EXPECT_EQ(result.error, "certificate has more than one UPN (ambiguous identity)");
}

TEST_F(CertificateIdentityTest, HandEncodedSanIsRead) {
    const Bytes san =
        der_tlv(0x30, {email_entry("alice@example.com"), upn_entry(utf8_string("alice@corp.example"))});

    const IdentityResult result = extract_with_san(san);

    ASSERT_TRUE(result) << result.error;
    EXPECT_EQ(result.identity->upn, "alice@corp.example");
    EXPECT_EQ(result.identity->emails, std::vector<std::string>{"alice@example.com"});
}

class UpnValueTypeTest : public CertificateIdentityTest,
                         public ::testing::WithParamInterface<std::uint8_t> {};

TEST_P(UpnValueTypeTest, WrongTypeIsRefused) {
    const Bytes san = der_tlv(0x30, {upn_entry(der_tlv(GetParam(), {der_text("alice@corp.example")}))});

    const IdentityResult result = extract_with_san(san);

    EXPECT_FALSE(result);
    EXPECT_EQ(result.error, "certificate UPN (SAN otherName 1.3.6.1.4.1.311.20.2.3) is not a UTF8String");
}

// IA5String, OCTET STRING, PrintableString, BMPString, VisibleString.
INSTANTIATE_TEST_SUITE_P(Tags, UpnValueTypeTest, ::testing::Values(0x16, 0x04, 0x13, 0x1e, 0x1a));

TEST_F(CertificateIdentityTest, MalformedSanIsRefused) {
    const Bytes valid = der_tlv(0x30, {upn_entry(utf8_string("alice@corp.example"))});
    Bytes truncated(valid.begin(), valid.end() - 1);
    Bytes trailing_byte = valid;
    trailing_byte.push_back(0x00);
    // BER long-form length where DER needs the short form.
    Bytes non_minimal_length = {0x30, 0x81, static_cast<std::uint8_t>(valid.size() - 2)};
    non_minimal_length.insert(non_minimal_length.end(), valid.begin() + 2, valid.end());

    for (const Bytes& san : {truncated, trailing_byte, non_minimal_length, Bytes{}}) {
        const IdentityResult result = extract_with_san(san);

        EXPECT_FALSE(result);
        EXPECT_EQ(result.error, "certificate SAN extension is malformed");
    }
}

TEST_F(CertificateIdentityTest, RepeatedSanExtensionIsRefused) {
    const Bytes san = der_tlv(0x30, {upn_entry(utf8_string("alice@corp.example"))});

    const RawExtension san_extension{.oid = subject_alt_name_oid, .der = san, .critical = false};

    const IdentityResult result = extract_with_extensions({san_extension, san_extension});

    EXPECT_FALSE(result);
    EXPECT_EQ(result.error, "certificate SAN extension appears more than once");
}

class BadSidTextTest : public CertificateIdentityTest, public ::testing::WithParamInterface<std::string> {};

TEST_P(BadSidTextTest, IsRefused) {
    const IdentityResult result =
        extract_with_sid_extension(der_tlv(0x30, {sid_entry(octet_string(GetParam()))}));

    EXPECT_FALSE(result);
    EXPECT_EQ(result.error, "certificate SID is not \"S-1-\" and dash-separated decimal numbers");
}

// A SAN URL SID is held to the same text rules as the extension's. One that breaks them (an Intune
// variable that found no on-premises SID, say) names no SID: the certificate maps weakly, as it did
// before easgate read the URL, rather than being refused in the handshake.
TEST_P(BadSidTextTest, InSanUrlNamesNoSid) {
    const IdentityResult result = extract_with_uris({sid_url(GetParam())});

    ASSERT_TRUE(result) << result.error;
    EXPECT_EQ(result.identity->sid, "");
    EXPECT_EQ(result.identity->upn, "alice@corp.example");
}

INSTANTIATE_TEST_SUITE_P(Texts, BadSidTextTest,
                         ::testing::Values("", "S-1-", "S-1", "S-1-5-", "S-1-5--21", "S-2-5-21", "s-1-5-21",
                                           "S-1-5-21-abc", "S-1-5-21-1 ", " S-1-5-21-1", "S-1-5-21-1\n",
                                           std::string("S-1-5-21-1\0", 11), "S-1-5-21-0x1F", "S-1-+5",
                                           "S-1-5-21-" + std::string(200, '1'), "alice@corp.example"));

TEST_F(CertificateIdentityTest, MalformedSidExtensionIsRefused) {
    const Bytes sid_as_utf8 = der_tlv(0x30, {sid_entry(utf8_string(domain_user_sid))});
    EXPECT_EQ(extract_with_sid_extension(sid_as_utf8).error, "certificate SID is not an OCTET STRING");

    const Bytes two_sids = der_tlv(
        0x30, {sid_entry(octet_string(domain_user_sid)), sid_entry(octet_string("S-1-5-21-1-2-3-500"))});
    EXPECT_EQ(extract_with_sid_extension(two_sids).error,
              "certificate SID extension holds more than one SID (ambiguous identity)");

    const Bytes no_sid = der_tlv(0x30, {der_tlv(0x82, {der_text("dc.corp.example")})});
    EXPECT_EQ(extract_with_sid_extension(no_sid).error,
              "certificate SID extension holds no SID (otherName 1.3.6.1.4.1.311.25.2.1)");

    // The bare otherName without the GeneralNames SEQUENCE, and the SID text without any ASN.1.
    for (const Bytes& malformed : {sid_entry(octet_string(domain_user_sid)), der_text(domain_user_sid),
                                   Bytes(adcs_sid_extension.begin(), adcs_sid_extension.end() - 1)}) {
        EXPECT_EQ(extract_with_sid_extension(malformed).error, "certificate SID extension is malformed");
    }
}

// Two SIDs, like two UPNs, would leave the choice of user to whoever reads the certificate next.
TEST_F(CertificateIdentityTest, SidExtensionAndDifferentSidUrlAreRefusedAsAmbiguous) {
    const IdentityResult result = extract_with_uris({sid_url("S-1-5-21-1-2-3-500")}, domain_user_sid);

    EXPECT_FALSE(result);
    EXPECT_EQ(result.error, "certificate has more than one SID (ambiguous identity)");
}

TEST_F(CertificateIdentityTest, TwoDifferentSidUrlsAreRefusedAsAmbiguous) {
    const IdentityResult result =
        extract_with_uris({sid_url(domain_user_sid), sid_url("S-1-5-21-1-2-3-500")});

    EXPECT_FALSE(result);
    EXPECT_EQ(result.error, "certificate has more than one SID (ambiguous identity)");
}

TEST_F(CertificateIdentityTest, DerInputMustBeExactlyOneCertificate) {
    const IssuedCert cert = issue(spec_with_upn("alice@corp.example"));
    Bytes trailing = cert.der;
    trailing.push_back(0x00);

    EXPECT_EQ(extract_identity_from_der(trailing).error, "certificate DER has bytes after the certificate");
    EXPECT_EQ(extract_identity_from_der(Bytes{}).error, "certificate DER is empty");
    EXPECT_EQ(extract_identity_from_der(der_text("not a certificate")).error,
              "certificate DER cannot be decoded");
    EXPECT_EQ(extract_identity(nullptr).error, "no certificate");
}

TEST_F(CertificateIdentityTest, LeavesTheOpenSslErrorQueueAsItFoundIt) {
    CertSpec spec = spec_with_upn("alice@corp.example");
    spec.extra_extensions = {{.oid = sid_extension_oid, .der = {0x30, 0x05}, .critical = false}};
    const IssuedCert malformed_sid = issue(spec);
    ERR_clear_error();
    ERR_raise(ERR_LIB_USER, 1);  // an error some earlier call left for its caller

    EXPECT_FALSE(extract_identity_from_der(der_text("not a certificate")));
    EXPECT_FALSE(extract_identity_from_der(malformed_sid.der));

    EXPECT_EQ(ERR_GET_LIB(ERR_get_error()), ERR_LIB_USER);
    EXPECT_EQ(ERR_get_error(), 0u);
}

}  // namespace
