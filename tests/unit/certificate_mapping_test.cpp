// What each identity.mapping searches for; the lab tests (gateway_mapping_test.cpp) show the searches
// finding the right accounts in a real directory.
#include "easgate/directory/certificate_mapping.hpp"

#include <gtest/gtest.h>

#include "easgate/directory/security_identifier.hpp"

namespace easgate::directory {
namespace {

using config::CertificateMapping;

identity::CertificateIdentity certificate() {
    identity::CertificateIdentity c;
    c.upn = "alice@example.test";
    c.emails = {"alice@mail.example.test", "a.b@example.test"};
    c.sid = "S-1-5-21-1004336348-1177238915-682003330-1105";
    c.issuer = "CN=Issuing CA,DC=corp,DC=example,DC=com";
    c.serial = "1200000000AC11000000002B";
    c.subject_key_id = "0a1b2c";
    c.sha1_fingerprint = "00ff";
    return c;
}

TEST(SecurityIdentifier, TextAndBinaryRoundTrip) {
    const std::string text = "S-1-5-21-1004336348-1177238915-682003330-1105";
    const auto binary = sid_binary(text);
    ASSERT_TRUE(binary);
    EXPECT_EQ(binary->size(), 8u + 4 * 5);
    EXPECT_EQ(binary->substr(0, 8), std::string("\x01\x05\x00\x00\x00\x00\x00\x05", 8));
    EXPECT_EQ(binary->substr(24), std::string("\x51\x04\x00\x00", 4));  // 1105, little-endian
    EXPECT_EQ(sid_text(*binary), text);
    EXPECT_EQ(sid_text(*sid_binary("S-1-5-32-544")), "S-1-5-32-544");
}

TEST(SecurityIdentifier, MalformedSidsAreNone) {
    for (const char* text :
         {"", "S-1-", "S-2-5-21", "S-1-5--1", "S-1-5-x", "S-1-5-4294967296", "S-1-281474976710656-1"})
        EXPECT_FALSE(sid_binary(text)) << text;
    EXPECT_FALSE(sid_text(""));
    EXPECT_FALSE(sid_text(
        std::string("\x01\x02\x00\x00\x00\x00\x00\x05\x01\x00\x00\x00", 12)));   // 2 announced, 1 there
    EXPECT_FALSE(sid_text(std::string("\x02\x00\x00\x00\x00\x00\x00\x05", 8)));  // revision 2
}

TEST(CertificateMappingSearch, StrongAltSecurityIdentitiesAreWrittenAsAdStoresThem) {
    EXPECT_EQ(strong_alt_security_identities(certificate()),
              (std::vector<std::string>{
                  "X509:<I>DC=com,DC=example,DC=corp,CN=Issuing CA<SR>2B0000000011AC0000000012",
                  "X509:<SKI>0a1b2c", "X509:<SHA1-PUKEY>00ff"}));
    auto escaped = certificate();
    escaped.issuer = "CN=Issuing CA\\, Tier 2,O=Example";
    escaped.serial = "ABC";  // odd: a leading zero first
    EXPECT_EQ(strong_alt_security_identities(escaped).front(),
              "X509:<I>O=Example,CN=Issuing CA\\, Tier 2<SR>BC0A");
}

TEST(CertificateMappingSearch, EachMappingSearchesItsAttribute) {
    const auto c = certificate();
    EXPECT_EQ(account_search(CertificateMapping::upn, c)->condition,
              "(userPrincipalName=alice@example.test)");
    EXPECT_EQ(account_search(CertificateMapping::email, c)->condition,
              "(|(mail=alice@mail.example.test)(proxyAddresses=smtp:alice@mail.example.test)"
              "(mail=a.b@example.test)(proxyAddresses=smtp:a.b@example.test))");
    EXPECT_EQ(
        account_search(CertificateMapping::sid, c)->condition,
        "(objectSid=\\01\\05\\00\\00\\00\\00\\00\\05\\15\\00\\00\\00\\dc\\f4\\dc\\3b\\83\\3d\\2b\\46\\82\\8b"
        "\\a6\\28\\51\\04\\00\\00)");
    const auto alt = account_search(CertificateMapping::alt_security_identities, c);
    EXPECT_EQ(alt->condition.substr(0, 49), "(|(altSecurityIdentities=X509:<I>DC=com,DC=exampl");
    EXPECT_NE(alt->condition.find("(altSecurityIdentities=X509:<SKI>0a1b2c)"), std::string::npos)
        << alt->condition;
}

TEST(CertificateMappingSearch, AMappingTheCertificateCannotServeIsSkipped) {
    identity::CertificateIdentity bare;
    bare.upn = "bob@example.test";
    EXPECT_FALSE(account_search(CertificateMapping::email, bare));
    EXPECT_FALSE(account_search(CertificateMapping::sid, bare));
    EXPECT_FALSE(account_search(CertificateMapping::alt_security_identities, bare));
    // Without a UPN the email stands in, as before identity.mapping existed.
    identity::CertificateIdentity email_only;
    email_only.emails = {"bob@example.test"};
    EXPECT_EQ(account_search(CertificateMapping::upn, email_only)->condition,
              "(userPrincipalName=bob@example.test)");
}

}  // namespace
}  // namespace easgate::directory
