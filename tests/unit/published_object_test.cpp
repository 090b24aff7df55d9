// The LDAP URLs AD CS writes into its CRL Distribution Points, as the directory reads them; the lab
// tests (gateway_revocation_test.cpp) read such CRLs from a real directory.
#include "easgate/directory/published_object.hpp"

#include <gtest/gtest.h>

namespace easgate::directory {
namespace {

TEST(PublishedObject, AdCsCdpNamesTheEntryItsAttributeAndFilter) {
    const auto base = parse_published_object(
        "ldap:///CN=Corp%20Issuing%20CA,CN=ca01,CN=CDP,CN=Public%20Key%20Services,CN=Services,"
        "CN=Configuration,DC=corp,DC=example,DC=com?certificateRevocationList?base?objectClass="
        "cRLDistributionPoint");
    ASSERT_TRUE(base) << base.error().reason;
    EXPECT_EQ(base->dn,
              "CN=Corp Issuing CA,CN=ca01,CN=CDP,CN=Public Key Services,CN=Services,CN=Configuration,DC=corp,"
              "DC=example,DC=com");
    EXPECT_EQ(base->attribute, "certificateRevocationList");
    EXPECT_EQ(base->filter, "(objectClass=cRLDistributionPoint)");
    // The delta CRL's location; without a filter or scope, the entry itself with any class.
    const auto delta = parse_published_object(
        "ldap:///CN=Corp%20Issuing%20CA,CN=ca01,CN=CDP,CN=Public%20Key%20Services,CN=Services,"
        "CN=Configuration,DC=corp,DC=example,DC=com?deltaRevocationList");
    ASSERT_TRUE(delta) << delta.error().reason;
    EXPECT_EQ(delta->attribute, "deltaRevocationList");
    EXPECT_EQ(delta->filter, "(objectClass=*)");
}

TEST(PublishedObject, UrlsTheDirectoryCannotServeAreRefusedWithTheReason) {
    const auto reason = [](const std::string& url) {
        const auto parsed = parse_published_object(url);
        return parsed ? std::string("parsed") : parsed.error().reason;
    };
    EXPECT_NE(
        reason("ldap://ca01.corp.example.com/CN=Corp%20CA?certificateRevocationList").find("names a server"),
        std::string::npos);
    EXPECT_NE(reason("ldap:///?certificateRevocationList").find("names no entry"), std::string::npos);
    EXPECT_NE(reason("ldap:///CN=Corp%20CA").find("exactly one attribute"), std::string::npos);
    EXPECT_NE(
        reason("ldap:///CN=Corp%20CA?certificateRevocationList,deltaRevocationList").find("exactly one"),
        std::string::npos);
    EXPECT_NE(reason("ldap:///CN=Corp%20CA?certificateRevocationList?sub").find("scope base"),
              std::string::npos);
    // A certificate names what easgate's account reads: a CRL, where AD CS publishes them, only.
    const std::string cdp =
        "CN=Corp%20CA,CN=ca01,CN=CDP,CN=Public%20Key%20Services,CN=Services,CN=Configuration,DC=corp";
    EXPECT_EQ(reason("ldap:///" + cdp + "?certificateRevocationList;binary"), "parsed");
    EXPECT_NE(reason("ldap:///" + cdp + "?cACertificate").find("not certificateRevocationList"),
              std::string::npos);
    EXPECT_NE(reason("ldap:///CN=krbtgt,CN=Users,DC=corp?certificateRevocationList").find("outside CN=CDP"),
              std::string::npos);
    EXPECT_NE(reason("ldap:///" + cdp + "%0A2026-12-06%20forged?certificateRevocationList").find("control"),
              std::string::npos);
    EXPECT_NE(reason("http://pki.corp.example.com/root.crl").find("is not an LDAP URL"), std::string::npos);
    EXPECT_EQ(parse_published_object("ldap:///CN=Corp%20CA").error().cause, "unusable_url");
}

}  // namespace
}  // namespace easgate::directory
