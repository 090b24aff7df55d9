// DirectoryClient against the lab's Samba AD DC (tests/lab): real binds, real searches.
#include <functional>

#include "directory_client_fixture.hpp"
#include "lab_administration.hpp"

namespace easgate::directory {
namespace {

using easgate::testing::LabEnvironment;
using lab::cause_of;
using lab::detail_of;
using lab::DirectoryClientTest;
using lab::is_member_of_sales;
using lab::lookup;
using lab::Lookup;
using lab::lookup_all;
using lab::run_lookups;
using lab::SilentServer;
using std::chrono::milliseconds;
using std::chrono::steady_clock;

TEST_F(DirectoryClientTest, GssapiBindFindsAliceWithHerGroups) {
    DirectoryClient client(gssapi(), &kerberos_);
    const auto result = lookup(client, "alice@example.test");
    ASSERT_EQ(cause_of(result), "found") << detail_of(result);
    EXPECT_EQ((*result)->sam_account_name, "alice");
    EXPECT_EQ((*result)->upn, "alice@example.test");
    EXPECT_TRUE((*result)->distinguished_name.starts_with("CN=alice,")) << (*result)->distinguished_name;
    EXPECT_TRUE(is_member_of_sales(**result));
}

// A German domain calls it "Geschützte Benutzer", and an admin may move it: Protected Users is
// found by its SID (RID 525) among the account's token groups, not by its name.
TEST_F(DirectoryClientTest, ProtectedUsersIsFoundWhateverTheGroupIsCalled) {
    const std::string base = lab_.at("LAB_BASE_DN");
    const auto rename = [&](const std::string& from, const std::string& to) {
        return testing::as_administrator({"ldapmodify"}, "dn: CN=" + from + ",CN=Users," + base +
                                                             "\nchangetype: modrdn\nnewrdn: CN=" + to +
                                                             "\ndeleteoldrdn: 1\n");
    };
    ASSERT_EQ(rename("Protected Users", "Geschuetzte Benutzer").exit_code, 0);
    struct Undo {
        std::function<void()> again;
        ~Undo() { again(); }
    } undo{[&] { rename("Geschuetzte Benutzer", "Protected Users"); }};
    DirectoryClient client(gssapi(), &kerberos_);
    const auto grace = lookup(client, "grace@example.test");
    EXPECT_EQ(cause_of(grace), "protected_users") << detail_of(grace);
}

TEST_F(DirectoryClientTest, GssapiInsideStartTls) {
    expect_alice_or_lab_refuses_gssapi_inside_tls(
        gssapi({lab_.at("LAB_LDAP_URL")}, config::LdapTls::starttls));
}

TEST_F(DirectoryClientTest, GssapiInsideLdaps) {
    expect_alice_or_lab_refuses_gssapi_inside_tls(
        gssapi({lab_.at("LAB_LDAPS_URL")}, config::LdapTls::starttls));
}

TEST_F(DirectoryClientTest, UppercaseUpnFindsTheStoredCanonicalUpn) {
    DirectoryClient client(gssapi(), &kerberos_);
    const auto result = lookup(client, "ALICE@EXAMPLE.TEST");
    ASSERT_EQ(cause_of(result), "found") << detail_of(result);
    EXPECT_EQ((*result)->upn, "alice@example.test");
    EXPECT_EQ((*result)->sam_account_name, "alice");
}

TEST_F(DirectoryClientTest, RefusesDisabledAndNotDelegableAccountsAndUnknownUpns) {
    DirectoryClient client(gssapi(), &kerberos_);
    const auto results =
        lookup_all(client, {"carol@example.test", "dave@example.test", "nobody@example.test"});
    EXPECT_EQ(cause_of(results[0]), "disabled") << detail_of(results[0]);
    EXPECT_NE(detail_of(results[0]).find("disabled"), std::string::npos) << detail_of(results[0]);
    EXPECT_NE(detail_of(results[0]).find("CN=carol,"), std::string::npos) << detail_of(results[0]);
    EXPECT_EQ(results[0].error().status, 403u);
    EXPECT_EQ(cause_of(results[1]), "not_delegable") << detail_of(results[1]);
    EXPECT_NE(detail_of(results[1]).find("cannot be delegated"), std::string::npos) << detail_of(results[1]);
    EXPECT_EQ(cause_of(results[2]), "not_found") << detail_of(results[2]);
}

// erin locked out, frank expired, grace in Protected Users through the group vip (tests/lab).
TEST_F(DirectoryClientTest, RefusesLockedOutExpiredAndProtectedUsersWithTheirCause) {
    DirectoryClient client(gssapi(), &kerberos_);
    const auto results =
        lookup_all(client, {"erin@example.test", "frank@example.test", "grace@example.test"});
    EXPECT_EQ(cause_of(results[0]), "locked_out") << detail_of(results[0]);
    EXPECT_NE(detail_of(results[0]).find("CN=erin,"), std::string::npos) << detail_of(results[0]);
    EXPECT_EQ(cause_of(results[1]), "expired") << detail_of(results[1]);
    EXPECT_NE(detail_of(results[1]).find("expired on 2020-01-01 00:00:00 UTC"), std::string::npos)
        << detail_of(results[1]);
    EXPECT_EQ(cause_of(results[2]), "protected_users") << detail_of(results[2]);
    EXPECT_NE(detail_of(results[2]).find("is a member of Protected Users (S-1-5-21-"), std::string::npos)
        << detail_of(results[2]);
    for (const auto& result : results) EXPECT_EQ(result ? 0u : result.error().status, 403u);
}

// eas-users holds sales (which holds alice) and bob; ivan is in neither.
TEST_F(DirectoryClientTest, RequireGroupCountsNestedMembership) {
    auto config = gssapi();
    config.require_group = "CN=eas-users,CN=Users," + lab_.at("LAB_BASE_DN");
    DirectoryClient client(config, &kerberos_);
    const auto results = lookup_all(client, {"alice@example.test", "bob@example.test", "ivan@example.test"});
    EXPECT_EQ(cause_of(results[0]), "found") << detail_of(results[0]);
    EXPECT_EQ(cause_of(results[1]), "found") << detail_of(results[1]);
    EXPECT_EQ(cause_of(results[2]), "not_in_group") << detail_of(results[2]);
    EXPECT_NE(detail_of(results[2]).find("directory.require_group (" + config.require_group + ")"),
              std::string::npos)
        << detail_of(results[2]);
    // Without the setting ivan gets in: the refusal was the group's.
    DirectoryClient open_client(gssapi(), &kerberos_);
    EXPECT_EQ(cause_of(lookup(open_client, "ivan@example.test")), "found");
}

TEST_F(DirectoryClientTest, FilterMetacharactersMatchNothing) {
    DirectoryClient client(gssapi(), &kerberos_);
    for (const auto& result :
         lookup_all(client, {"*@example.test", "*", "alice)(uid=*", "a\\b@x", "alice*"})) {
        EXPECT_EQ(cause_of(result), "not_found") << detail_of(result);
    }
    EXPECT_EQ(client.counters().searches, 5u);  // each one really asked the DC
}

TEST_F(DirectoryClientTest, SimpleBindOverLdaps) {
    DirectoryClient client(simple({lab_.at("LAB_LDAPS_URL")}), nullptr);
    const auto result = lookup(client, "alice@example.test");
    ASSERT_EQ(cause_of(result), "found") << detail_of(result);
    EXPECT_EQ((*result)->sam_account_name, "alice");
}

TEST_F(DirectoryClientTest, SimpleBindOverStartTls) {
    DirectoryClient client(simple({lab_.at("LAB_LDAP_URL")}), nullptr);
    const auto result = lookup(client, "bob@example.test");
    ASSERT_EQ(cause_of(result), "found") << detail_of(result);
    EXPECT_EQ((*result)->sam_account_name, "bob");
}

TEST_F(DirectoryClientTest, RefusesADcCertificateFromAnotherCa) {
    const auto dir = testing::make_temp_dir("other-ca");
    const auto other_ca = dir / "other-ca.pem";  // a CA that issued nothing the DCs hold
    testing::write_file(other_ca, testing::TestCa::create_root("not the DCs' CA").cert_pem());
    auto config = simple({lab_.at("LAB_LDAPS_URL"), lab_.at("LAB_LDAP_URL")});
    config.ca_file = other_ca;
    DirectoryClient client(config, nullptr);
    const auto result = lookup(client, "alice@example.test");
    EXPECT_EQ(cause_of(result), "unavailable");
    // libldap (GnuTLS on Debian) says no more than "Can't contact LDAP server" for ldaps://: easgate
    // adds that it connected, so the handshake failed, and what to check.
    EXPECT_NE(detail_of(result).find(lab_.at("LAB_LDAPS_URL") +
                                     ": Can't contact LDAP server: the TLS handshake failed: does "
                                     "directory.ca_file (" +
                                     other_ca.string()),
              std::string::npos)
        << detail_of(result);
    EXPECT_NE(detail_of(result).find(lab_.at("LAB_LDAP_URL") + ": StartTLS failed"), std::string::npos)
        << detail_of(result);
    EXPECT_NE(detail_of(result).find(other_ca.string()), std::string::npos) << detail_of(result);
    std::filesystem::remove_all(dir);
}

TEST_F(DirectoryClientTest, FailsOverToTheNextUri) {
    DirectoryClient client(gssapi({"ldap://127.0.0.9:1", lab_.at("LAB_LDAP_URL")}), &kerberos_);
    const auto result = lookup(client, "alice@example.test");
    ASSERT_EQ(cause_of(result), "found") << detail_of(result);
    EXPECT_EQ(client.counters().connections_opened, 1u);
}

TEST_F(DirectoryClientTest, AllUrisDeadIsUnavailableNamingEachUri) {
    SilentServer silent;
    auto config = simple({"ldap://127.0.0.9:1", silent.uri()});
    config.timeout = milliseconds(1'000);
    DirectoryClient client(config, nullptr);
    const auto start = steady_clock::now();
    const auto result = lookup(client, "alice@example.test");
    const auto elapsed = steady_clock::now() - start;
    EXPECT_EQ(cause_of(result), "unavailable");
    EXPECT_EQ(result.error().status, 503u);
    EXPECT_NE(detail_of(result).find("ldap://127.0.0.9:1: Can't contact LDAP server: no TCP connection "
                                     "(refused or unreachable"),
              std::string::npos)
        << detail_of(result);
    EXPECT_NE(detail_of(result).find(silent.uri() + ": "), std::string::npos) << detail_of(result);
    EXPECT_GE(elapsed, milliseconds(900));    // the silent server was given its timeout...
    EXPECT_LT(elapsed, milliseconds(2'500));  // ...and no more
    EXPECT_EQ(client.counters().connections_opened, 0u);
}

TEST_F(DirectoryClientTest, UnavailableIsNotCached) {
    DirectoryClient client(gssapi({"ldap://127.0.0.9:1"}), &kerberos_);
    EXPECT_EQ(cause_of(lookup(client, "alice@example.test")), "unavailable");
    EXPECT_EQ(cause_of(lookup(client, "alice@example.test")), "unavailable");
    EXPECT_EQ(client.counters().cache_hits, 0u);
}

TEST_F(DirectoryClientTest, CachesFoundAndNotFoundAndReusesTheConnection) {
    DirectoryClient client(gssapi(), &kerberos_);
    const auto first = lookup(client, "alice@example.test");
    ASSERT_EQ(cause_of(first), "found");
    ASSERT_EQ(cause_of(lookup(client, "nobody@example.test")), "not_found");
    EXPECT_EQ(client.counters().searches, 2u);

    const auto start = steady_clock::now();
    const auto again = lookup(client, "Alice@Example.Test");
    const auto elapsed = steady_clock::now() - start;
    ASSERT_EQ(cause_of(again), "found");
    EXPECT_EQ((*again)->sam_account_name, "alice");
    // The cached user itself, shared: a request holds no copy of its groups.
    EXPECT_EQ(again->get(), first->get());
    EXPECT_EQ(cause_of(lookup(client, "nobody@example.test")), "not_found");
    EXPECT_EQ(client.counters().searches, 2u);
    EXPECT_EQ(client.counters().cache_hits, 2u);
    EXPECT_EQ(client.counters().connections_opened, 1u);
    EXPECT_LT(elapsed, milliseconds(5));
}

TEST_F(DirectoryClientTest, ExpiredEntriesAreSearchedAgain) {
    auto config = gssapi();
    config.cache_ttl = milliseconds(200);
    DirectoryClient client(config, &kerberos_);
    ASSERT_EQ(cause_of(lookup(client, "alice@example.test")), "found");
    std::this_thread::sleep_for(milliseconds(300));
    ASSERT_EQ(cause_of(lookup(client, "alice@example.test")), "found");
    EXPECT_EQ(client.counters().searches, 2u);
}

TEST_F(DirectoryClientTest, ConcurrentLookupsOfOneUpnShareOneSearch) {
    DirectoryClient client(gssapi(), &kerberos_);
    const auto results = lookup_all(client, std::vector<std::string>(5, "bob@example.test"));
    for (const auto& result : results) EXPECT_EQ(cause_of(result), "found") << detail_of(result);
    EXPECT_EQ(client.counters().searches, 1u);
    EXPECT_EQ(client.counters().shared_lookups, 4u);
}

TEST_F(DirectoryClientTest, ManyUsersInParallelOnThePool) {
    auto config = gssapi();
    config.max_concurrent = 3;
    DirectoryClient client(config, &kerberos_);
    std::vector<std::string> upns;
    for (int i = 1; i <= 10; ++i)
        upns.push_back("user" + std::string(i < 10 ? "0" : "") + std::to_string(i) + "@example.test");
    const auto results = lookup_all(client, upns);
    for (std::size_t i = 0; i < upns.size(); ++i) {
        ASSERT_EQ(cause_of(results[i]), "found") << upns[i] << ": " << detail_of(results[i]);
        EXPECT_EQ((*results[i])->upn, upns[i]);
    }
    EXPECT_EQ(client.counters().searches, 10u);
    EXPECT_LE(client.counters().connections_opened, 3u);
}

TEST_F(DirectoryClientTest, UnreadablePasswordFileIsAConfigError) {
    auto config = simple({lab_.at("LAB_LDAPS_URL")});
    config.password_file = (temp_dir_ / "missing").string();
    EXPECT_THROW(DirectoryClient(config, nullptr), config::ConfigError);
}
}  // namespace
}  // namespace easgate::directory
