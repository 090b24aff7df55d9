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
    c.issuer_as_windows = "DC=com,DC=example,DC=corp,CN=Issuing CA";
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
    auto odd = certificate();
    odd.serial = "ABC";  // odd: a leading zero first
    EXPECT_EQ(strong_alt_security_identities(odd).front(),
              "X509:<I>DC=com,DC=example,DC=corp,CN=Issuing CA<SR>BC0A");
    odd.issuer_as_windows.clear();  // unreadable as text: no X509:<I> value to look for
    EXPECT_EQ(strong_alt_security_identities(odd).front(), "X509:<SKI>0a1b2c");
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
    // A certificate naming no user leaves upn and email to the strong mappings.
    auto nameless = certificate();
    nameless.upn.clear();
    nameless.emails.clear();
    EXPECT_FALSE(account_search(CertificateMapping::upn, nameless));
    EXPECT_FALSE(account_search(CertificateMapping::email, nameless));
    EXPECT_TRUE(account_search(CertificateMapping::sid, nameless));
    EXPECT_TRUE(account_search(CertificateMapping::alt_security_identities, nameless));
}

// KB5014754 as a domain controller applies it to the account found.
class StrongMappingVerdict : public ::testing::Test {
protected:
    static constexpr auto found_at = std::chrono::sys_days{std::chrono::year{2026} / 3 / 1};

    static FoundUser account(std::optional<std::chrono::system_clock::time_point> created = found_at) {
        DirectoryUser user;
        user.distinguished_name = "CN=alice,CN=Users,DC=example,DC=test";
        user.object_sid = certificate().sid;
        user.created = created;
        return std::make_shared<const DirectoryUser>(std::move(user));
    }

    // The cause of the verdict on a certificate issued `issued` relative to the account's creation.
    static std::string cause(config::StrongMapping strength, CertificateMapping found_by,
                             std::chrono::seconds issued, bool with_sid = false,
                             std::optional<std::chrono::system_clock::time_point> created = found_at) {
        auto c = certificate();
        if (!with_sid) c.sid.clear();
        c.not_before = found_at + issued;
        const config::IdentityConfig config{.mapping = {found_by}, .strong_mapping = strength};
        const auto verdict = hold_to_strong_mapping(config, c, found_by, account(created));
        return verdict ? "found" : verdict.error().cause;
    }
};

TEST_F(StrongMappingVerdict, AWeaklyMappedCertificateOlderThanItsAccountIsRefused) {
    using config::StrongMapping;
    using std::chrono::minutes;
    EXPECT_EQ(cause(StrongMapping::preferred, CertificateMapping::upn, -minutes(16)), "predates_account");
    EXPECT_EQ(cause(StrongMapping::preferred, CertificateMapping::email, -std::chrono::days(400)),
              "predates_account");
    // AD CS backdates notBefore 10 minutes, and its clock may be 5 behind the DC's: a certificate
    // requested right after the account was made.
    EXPECT_EQ(cause(StrongMapping::preferred, CertificateMapping::upn, -minutes(15)), "found");
    EXPECT_EQ(cause(StrongMapping::preferred, CertificateMapping::upn, minutes(5)), "found");
    // A strong mapping, or a matching SID, is not judged by date; neither is a mapping with off.
    EXPECT_EQ(cause(StrongMapping::preferred, CertificateMapping::upn, -minutes(60), true), "found");
    EXPECT_EQ(cause(StrongMapping::preferred, CertificateMapping::sid, -minutes(60), true), "found");
    EXPECT_EQ(cause(StrongMapping::preferred, CertificateMapping::alt_security_identities, -minutes(60)),
              "found");
    EXPECT_EQ(cause(StrongMapping::off, CertificateMapping::upn, -minutes(60)), "found");
    EXPECT_EQ(cause(StrongMapping::required, CertificateMapping::upn, minutes(5)), "weak_mapping");
    // A directory that does not say when the account was made: no date to judge by, so a weak
    // mapping is not let through unjudged; a strong one needs no date.
    EXPECT_EQ(cause(StrongMapping::preferred, CertificateMapping::upn, minutes(5), false, std::nullopt),
              "unavailable");
    EXPECT_EQ(cause(StrongMapping::preferred, CertificateMapping::upn, minutes(5), true, std::nullopt),
              "found");
    EXPECT_EQ(cause(StrongMapping::off, CertificateMapping::upn, minutes(5), false, std::nullopt), "found");
}

TEST_F(StrongMappingVerdict, ThePredatingRefusalNamesBothDatesAndTheCompensation) {
    auto c = certificate();
    c.sid.clear();
    c.not_before = found_at - std::chrono::hours(2);
    config::IdentityConfig config;
    config.backdating_compensation = std::chrono::minutes(30);
    const auto verdict = hold_to_strong_mapping(config, c, CertificateMapping::upn, account());
    ASSERT_FALSE(verdict);
    const auto& reason = verdict.error().reason;
    for (const char* said : {"CN=alice,CN=Users,DC=example,DC=test", "only by upn", "KB5014754",
                             "issued 2026-02-28 22:00:00 UTC", "created 2026-03-01 00:00:00 UTC",
                             "backdating_compensation 30m", "new certificate", "SID extension"})
        EXPECT_NE(reason.find(said), std::string::npos) << said << " in " << reason;
    EXPECT_EQ(verdict.error().status, 403u);
    config.backdating_compensation = std::chrono::hours(3);
    EXPECT_TRUE(hold_to_strong_mapping(config, c, CertificateMapping::upn, account()));
}

}  // namespace
}  // namespace easgate::directory
