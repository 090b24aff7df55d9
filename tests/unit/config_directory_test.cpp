// The directory, identity and kerberos sections of the configuration, and what they need of each
// other.
#include <gtest/gtest.h>

#include "config_fixture.hpp"
#include "easgate/config/config.hpp"

namespace easgate::config {
namespace {

TEST_F(ConfigTest, ReadsTheDirectoryAndKerberosSections) {
    const auto config = load(valid("",
                                   "directory:\n  uris: [ldaps://dc1.example.test, ldap://dc2.example.test]\n"
                                   "  base_dn: DC=example,DC=test\n  timeout: 2s\n"
                                   "kerberos:\n  keytab: " +
                                       path("easgate.keytab") + "\n  principal: EASGATE$@EXAMPLE.TEST\n"));
    ASSERT_TRUE(config.directory);
    EXPECT_EQ(config.directory->uris.size(), 2u);
    EXPECT_EQ(config.directory->bind, DirectoryBind::gssapi);
    EXPECT_EQ(config.directory->timeout, std::chrono::seconds(2));
    EXPECT_EQ(config.directory->cache_ttl, std::chrono::minutes(5));
    EXPECT_EQ(config.directory->max_queued_lookups, 1'000u);
    EXPECT_NE(to_yaml(config).find("  max_concurrent: 4\n  max_queued_lookups: 1000\n"), std::string::npos)
        << to_yaml(config);
    const auto no_queue = error_of(valid("",
                                         "directory:\n  uris: [ldaps://dc1]\n  base_dn: DC=example,DC=test\n"
                                         "  max_queued_lookups: 0\n"));
    EXPECT_NE(no_queue.find("directory.max_queued_lookups: must be at least 1"), std::string::npos)
        << no_queue;
    ASSERT_TRUE(config.kerberos);
    EXPECT_EQ(config.kerberos->realm(), "EXAMPLE.TEST");
    EXPECT_EQ(config.kerberos->ticket_refresh_before, std::chrono::minutes(5));
    EXPECT_EQ(config.kerberos->timeout, std::chrono::seconds(5));
}

TEST_F(ConfigTest, IdentityMappingDefaultsToTheUpnAndPreferredStrongMapping) {
    const auto defaults = load(valid());
    EXPECT_EQ(defaults.identity.mapping, std::vector<CertificateMapping>{CertificateMapping::upn});
    EXPECT_EQ(defaults.identity.strong_mapping, StrongMapping::preferred);
    EXPECT_NE(to_yaml(defaults).find("identity:\n  mapping: [upn]\n  strong_mapping: preferred\n"),
              std::string::npos)
        << to_yaml(defaults);
    const auto config = load(valid(
        "",
        "identity:\n  mapping: [sid, alt_security_identities, upn, email]\n  strong_mapping: required\n"));
    EXPECT_EQ(
        config.identity.mapping,
        (std::vector<CertificateMapping>{CertificateMapping::sid, CertificateMapping::alt_security_identities,
                                         CertificateMapping::upn, CertificateMapping::email}));
    EXPECT_EQ(config.identity.strong_mapping, StrongMapping::required);
    EXPECT_EQ(defaults.identity.backdating_compensation, std::chrono::minutes(15));
    EXPECT_NE(to_yaml(defaults).find("  backdating_compensation: 15m\n"), std::string::npos)
        << to_yaml(defaults);
    EXPECT_EQ(load(valid("", "identity:\n  backdating_compensation: 0s\n")).identity.backdating_compensation,
              std::chrono::milliseconds(0));
    EXPECT_EQ(load(valid("", "identity:\n  backdating_compensation: 1h\n")).identity.backdating_compensation,
              std::chrono::hours(1));
    const auto not_a_duration = error_of(valid("", "identity:\n  backdating_compensation: ten\n"));
    EXPECT_NE(not_a_duration.find("identity.backdating_compensation"), std::string::npos) << not_a_duration;
    const auto unknown = error_of(valid("", "identity:\n  mapping: [upn, subject]\n"));
    EXPECT_NE(unknown.find("identity.mapping[1]"), std::string::npos) << unknown;
    const auto empty = error_of(valid("", "identity:\n  mapping: []\n"));
    EXPECT_NE(empty.find("list at least one of upn, email, sid, alt_security_identities"), std::string::npos)
        << empty;
}

TEST_F(ConfigTest, RequireGroupIsAGroupsDistinguishedName) {
    const std::string directory =
        "directory:\n  uris: [ldaps://dc1]\n  base_dn: DC=example,DC=test\n  bind: "
        "{method: simple, dn: \"CN=x,DC=example,DC=test\", password_file: " +
        path("easgate.keytab") + "}\n";
    EXPECT_TRUE(load(valid("", directory)).directory->require_group.empty());
    const auto config =
        load(valid("", directory + "  require_group: CN=eas-users,CN=Users,DC=example,DC=test\n"));
    EXPECT_EQ(config.directory->require_group, "CN=eas-users,CN=Users,DC=example,DC=test");
    EXPECT_NE(to_yaml(config).find("require_group: CN=eas-users,CN=Users,DC=example,DC=test"),
              std::string::npos);
    const auto name_only = error_of(valid("", directory + "  require_group: eas-users\n"));
    EXPECT_NE(name_only.find("directory.require_group: expected the group's distinguished name"),
              std::string::npos)
        << name_only;
}

TEST_F(ConfigTest, KerberosTimeoutIsADurationAboveZero) {
    const std::string sections =
        "directory:\n  uris: [ldaps://dc1]\n  base_dn: DC=example,DC=test\n"
        "kerberos:\n  keytab: " +
        path("easgate.keytab") + "\n  principal: EASGATE$@EXAMPLE.TEST\n";
    const auto config = load(valid("", sections + "  timeout: 3s\n"));
    EXPECT_EQ(config.kerberos->timeout, std::chrono::seconds(3));
    EXPECT_NE(to_yaml(config).find("  max_concurrent_kdc: 4\n  max_queued_kdc: 1000\n  timeout: 3s\n"),
              std::string::npos)
        << to_yaml(config);
    EXPECT_EQ(
        error_of(valid("", sections + "  timeout: 0s\n")),
        "kerberos.timeout: expected a duration above zero such as 500ms, 15s, 5m or 1h, got \"0s\" (line "
        "20)");
}

TEST_F(ConfigTest, GssapiDirectoryBindNeedsTheKerberosSection) {
    EXPECT_EQ(
        error_of(valid("", "directory:\n  uris: [ldaps://dc1]\n  base_dn: DC=example,DC=test\n")),
        "directory: the GSSAPI bind (the default) uses easgate's keytab: add the kerberos: section, or bind: "
        "{method: simple} (line 15)");
}

TEST_F(ConfigTest, SimpleBindNeedsTlsAndAPasswordFile) {
    const std::string simple =
        "directory:\n  uris: [ldap://dc1]\n  base_dn: DC=example,DC=test\n"
        "  bind: {method: simple, dn: CN=easgate, password_file: " +
        path("ldap-password") + "}\n";
    EXPECT_EQ(load(valid("", simple)).directory->bind, DirectoryBind::simple);
    EXPECT_EQ(error_of(valid("", simple + "  ldap_tls: none\n")),
              "directory.ldap_tls: a simple bind over an ldap:// URI would send the password in clear: use "
              "starttls or ldaps:// (line 18)");
    // ldaps:// is TLS whatever ldap_tls says (it was refused all the same).
    std::string over_ldaps = simple + "  ldap_tls: none\n";
    over_ldaps.replace(over_ldaps.find("ldap://"), 7, "ldaps://");
    EXPECT_EQ(load(valid("", over_ldaps)).directory->ldap_tls, LdapTls::none);
}

TEST_F(ConfigTest, KerberosNeedsAServicePrincipalOnEveryUpstreamAndARealm) {
    const std::string kerberos =
        "kerberos:\n  keytab: " + path("easgate.keytab") + "\n  principal: EASGATE$@EXAMPLE.TEST\n";
    EXPECT_EQ(
        error_of(valid("", kerberos)),
        "kerberos: delegation needs the directory: section, to impersonate each user by their canonical "
        "account name (line 15)");
    auto text = valid("", kerberos + "directory:\n  uris: [ldaps://dc1]\n  base_dn: DC=example,DC=test\n");
    text.erase(text.find("    service_principal:"), text.find("\n", text.find("    service_principal:")) + 1 -
                                                        text.find("    service_principal:"));
    EXPECT_EQ(error_of(text),
              "upstreams[0]: service_principal is required with kerberos: it is the SPN Exchange holds, e.g. "
              "HTTP/mail.corp.example.com (line 10)");
    EXPECT_EQ(
        error_of(valid("", "kerberos:\n  keytab: " + path("easgate.keytab") + "\n  principal: EASGATE$\n")),
        "kerberos.principal: expected NAME@REALM, e.g. EASGATE$@CORP.EXAMPLE.COM, got \"EASGATE$\" (line "
        "16)");
}

}  // namespace
}  // namespace easgate::config
