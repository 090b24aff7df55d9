// Account checks from the directory entry alone; the lab tests (directory_client_test.cpp) show the
// same against a real DC.
#include "easgate/directory/account_checks.hpp"

#include <gtest/gtest.h>

#include <algorithm>

namespace easgate::directory {
namespace {

using std::chrono::system_clock;

// 2026-01-01 00:00:00 UTC as a FILETIME, and one day of FILETIME ticks.
constexpr std::int64_t new_year_2026 = 134'116'992'000'000'000;
constexpr std::int64_t day = 864'000'000'000;
const auto noon_2026_01_01 = system_clock::from_time_t(1'767'225'600) + std::chrono::hours(12);

LdapEntry entry(std::uint32_t control = 0x200) {
    return {{"userPrincipalName", {"erin@example.test"}},
            {"sAMAccountName", {"erin"}},
            {"distinguishedName", {"CN=erin,CN=Users,DC=example,DC=test"}},
            {"userAccountControl", {std::to_string(control)}},
            {"msDS-User-Account-Control-Computed", {"0"}},
            {"memberOf", {"CN=sales,CN=Users,DC=example,DC=test"}}};
}

std::string cause_of(const UserLookup& result) { return result ? "found" : result.error().cause; }

// The search asks for every attribute the checks read, the lists that come in ranges among them.
TEST(AccountChecks, TheSearchAsksForWhatTheChecksRead) {
    const auto& asked = account_attributes();
    for (const char* name :
         {"userPrincipalName", "sAMAccountName", "userAccountControl", "msDS-User-Account-Control-Computed",
          "lockoutTime", "accountExpires", "distinguishedName", "objectSid", "memberOf",
          "msExchMobileAllowedDeviceIDs", "msExchMobileBlockedDeviceIDs", "mail", "whenCreated"})
        EXPECT_EQ(std::count(asked.begin(), asked.end(), name), 1) << name;
    EXPECT_EQ(asked.size(), 13u);
}

// whenCreated as AD and Samba write it; anything else is no date (a weak mapping is then refused).
TEST(AccountChecks, WhenCreatedIsReadAsUtc) {
    auto created = entry();
    created["whenCreated"] = {"20260101120000.0Z"};
    EXPECT_EQ((*judge_account(created, "ldaps://dc1", noon_2026_01_01))->created, noon_2026_01_01);
    EXPECT_EQ(utc_text(noon_2026_01_01), "2026-01-01 12:00:00 UTC");
    EXPECT_FALSE((*judge_account(entry(), "ldaps://dc1", noon_2026_01_01))->created);
    for (const char* malformed : {"20260101120000.0", "2026-01-01 12:00Z", "202601011200Z", ""}) {
        created["whenCreated"] = {malformed};
        EXPECT_FALSE((*judge_account(created, "ldaps://dc1", noon_2026_01_01))->created) << malformed;
    }
}

TEST(AccountChecks, AnEnabledDelegableAccountIsTheUser) {
    const auto result = judge_account(entry(), "ldaps://dc1", noon_2026_01_01);
    ASSERT_TRUE(result) << result.error();
    EXPECT_EQ((*result)->sam_account_name, "erin");
    EXPECT_EQ((*result)->member_of, std::vector<std::string>{"CN=sales,CN=Users,DC=example,DC=test"});
    EXPECT_EQ((*result)->mail, "");
    auto with_mail = entry();
    with_mail["mail"] = {"Erin.Example@mail.example.test"};
    EXPECT_EQ((*judge_account(with_mail, "ldaps://dc1", noon_2026_01_01))->mail,
              "Erin.Example@mail.example.test");
}

TEST(AccountChecks, DisabledAndNotDelegableAreRefusedWithTheirCause) {
    const auto disabled = judge_account(entry(0x202), "ldaps://dc1", noon_2026_01_01);
    EXPECT_EQ(cause_of(disabled), "disabled");
    EXPECT_EQ(disabled.error().status, 403u);
    const auto sensitive = judge_account(entry(0x100200), "ldaps://dc1", noon_2026_01_01);
    EXPECT_EQ(cause_of(sensitive), "not_delegable");
    EXPECT_NE(sensitive.error().reason.find("CN=erin,CN=Users,DC=example,DC=test"), std::string::npos);
}

TEST(AccountChecks, LockedOutIsWhatTheDcComputesNotLockoutTimeAlone) {
    auto locked = entry();
    locked["msDS-User-Account-Control-Computed"] = {"16"};
    locked["lockoutTime"] = {std::to_string(new_year_2026)};
    const auto result = judge_account(locked, "ldaps://dc1", noon_2026_01_01);
    EXPECT_EQ(cause_of(result), "locked_out");
    EXPECT_NE(result.error().reason.find("since 2026-01-01 00:00:00 UTC"), std::string::npos)
        << result.error().reason;
    EXPECT_NE(result.error().reason.find("Unlock-ADAccount"), std::string::npos);
    // The lockout duration has passed: lockoutTime stays until the next logon, the DC says 0.
    auto unlocked = locked;
    unlocked["msDS-User-Account-Control-Computed"] = {"0"};
    EXPECT_EQ(cause_of(judge_account(unlocked, "ldaps://dc1", noon_2026_01_01)), "found");
}

// What the DC computes, the lockout, is no optional extra: a bind identity that can't read it (or a
// directory that doesn't compute it) must not let a locked-out account pass as unlocked.
TEST(AccountChecks, AnEntryWithoutTheComputedAccountControlIsNoAnswer) {
    auto unreadable = entry();
    unreadable.erase("msDS-User-Account-Control-Computed");
    const auto result = judge_account(unreadable, "ldaps://dc1", noon_2026_01_01);
    EXPECT_EQ(cause_of(result), "unavailable");
    EXPECT_EQ(result.error().status, 503u);
    EXPECT_NE(result.error().reason.find("msDS-User-Account-Control-Computed"), std::string::npos)
        << result.error().reason;
}

TEST(AccountChecks, AnExpiredAccountIsRefusedOnceAccountExpiresHasPassed) {
    auto expiring = entry();
    expiring["accountExpires"] = {std::to_string(new_year_2026)};
    const auto expired = judge_account(expiring, "ldaps://dc1", noon_2026_01_01);
    EXPECT_EQ(cause_of(expired), "expired");
    EXPECT_NE(expired.error().reason.find("expired on 2026-01-01 00:00:00 UTC"), std::string::npos)
        << expired.error().reason;
    expiring["accountExpires"] = {std::to_string(new_year_2026 + day)};
    EXPECT_EQ(cause_of(judge_account(expiring, "ldaps://dc1", noon_2026_01_01)), "found");
    for (const char* never : {"0", "9223372036854775807"}) {
        expiring["accountExpires"] = {never};
        EXPECT_EQ(cause_of(judge_account(expiring, "ldaps://dc1", noon_2026_01_01)), "found") << never;
    }
}

TEST(AccountChecks, AnEntryWithoutWhatEasgateMustReadIsUnavailableNotRefused) {
    auto unreadable = entry();
    unreadable.erase("userAccountControl");
    const auto result = judge_account(unreadable, "ldaps://dc1", noon_2026_01_01);
    EXPECT_EQ(result.error().status, 503u);
    EXPECT_NE(result.error().reason.find("ldaps://dc1"), std::string::npos);
}

// By SID, whatever the group is called (a German domain's is "Geschützte Benutzer") or wherever
// it was moved.
TEST(AccountChecks, ProtectedUsersIsRid525OfTheAccountsDomain) {
    EXPECT_EQ(protected_users_sid("S-1-5-21-1004336348-1177238915-682003330-1105"),
              "S-1-5-21-1004336348-1177238915-682003330-525");
    EXPECT_EQ(protected_users_sid("S-1-5-32-544"), "") << "a builtin SID names no domain";
    EXPECT_EQ(protected_users_sid("S-1-5-21-1-2-1105"), "");
    EXPECT_EQ(protected_users_sid(""), "");
}

// Where tokenGroups can't be read: the group by its English name, in the account's domain.
TEST(AccountChecks, ProtectedUsersByNameIsInTheAccountsDomain) {
    EXPECT_EQ(protected_users_dn("CN=erin,OU=Staff,DC=corp,DC=example,DC=com"),
              "CN=Protected Users,CN=Users,DC=corp,DC=example,DC=com");
    const std::string tricky = "CN=Smith\\,DC=evil\\,DC=test,OU=DC=x,DC=child,DC=example,DC=test";
    EXPECT_EQ(protected_users_dn(tricky), "CN=Protected Users,CN=Users,DC=child,DC=example,DC=test");
    EXPECT_EQ(protected_users_dn("CN=no domain"), "CN=Protected Users,CN=Users,CN=no domain");
}

TEST(AccountChecks, TheDomainIsTheTrailingDcComponents) {
    EXPECT_EQ(domain_of("CN=erin,OU=Staff,DC=corp,DC=example,DC=com").dns_name, "corp.example.com");
    EXPECT_EQ(domain_of("cn=erin, dc=example, dc=test").dns_name, "example.test");
    // A DC= inside an escaped value is the value's; a DC= before another RDN is not the domain's.
    const std::string tricky = "CN=Smith\\,DC=evil\\,DC=test,OU=DC=x,DC=child,DC=example,DC=test";
    EXPECT_EQ(domain_of(tricky).dns_name, "child.example.test");
    EXPECT_EQ(domain_of("CN=no domain").dns_name, "");
}

TEST(AccountChecks, TheInChainFilterEscapesTheGroupsName) {
    EXPECT_EQ(in_chain_filter("CN=eas-users,DC=example,DC=test"),
              "(memberOf:1.2.840.113556.1.4.1941:=CN=eas-users,DC=example,DC=test)");
    EXPECT_EQ(in_chain_filter("CN=a*(b),DC=x"), "(memberOf:1.2.840.113556.1.4.1941:=CN=a\\2a\\28b\\29,DC=x)");
}

// AD hands out at most 1500 values of an attribute at a time: a user in more groups gets
// memberOf;range=0-1499, and the rest range by range.
TEST(AccountChecks, GroupsHandedOutInRangesAreReadToTheLast) {
    auto ranged = entry();
    ranged.erase("memberOf");
    ranged["memberOf;range=0-1"] = {"CN=g0,DC=example,DC=test", "CN=g1,DC=example,DC=test"};
    const auto first = judge_account(ranged, "ldaps://dc1", noon_2026_01_01);
    ASSERT_TRUE(first) << first.error();
    EXPECT_EQ((*first)->member_of.size(), 2u);
    EXPECT_EQ(ranged_values(ranged, "memberOf").next, 2u);

    std::vector<std::string> asked;
    const auto all =
        with_all_values(*first, ranged, [&](const std::string& attribute) -> common::Result<LdapEntry> {
            asked.push_back(attribute);
            if (attribute == "memberOf;range=2-*")
                return LdapEntry{{"memberOf;Range=2-3", {"CN=g2", "CN=g3"}}};
            return LdapEntry{{"memberOf;range=4-*", {"CN=g4"}}};
        });
    ASSERT_TRUE(all) << all.error();
    EXPECT_EQ((*all)->member_of,
              (std::vector<std::string>{"CN=g0,DC=example,DC=test", "CN=g1,DC=example,DC=test", "CN=g2",
                                        "CN=g3", "CN=g4"}));
    EXPECT_EQ(asked, (std::vector<std::string>{"memberOf;range=2-*", "memberOf;range=4-*"}));
    EXPECT_EQ((*first)->member_of.size(), 2u) << "the user found first is not changed";
}

TEST(AccountChecks, AGroupRangeThatFailsOrStandsStillIsUnavailable) {
    auto ranged = entry();
    ranged.erase("memberOf");
    ranged["memberOf;range=0-1"] = {"CN=g0", "CN=g1"};
    const auto user = *judge_account(ranged, "ldaps://dc1", noon_2026_01_01);
    const auto failed = with_all_values(user, ranged, [](const std::string&) -> common::Result<LdapEntry> {
        return common::Failure::unavailable("reading failed");
    });
    ASSERT_FALSE(failed);
    EXPECT_EQ(failed.error().reason, "reading failed");
    int fetches = 0;
    const auto stuck = with_all_values(user, ranged, [&](const std::string&) -> common::Result<LdapEntry> {
        ++fetches;
        return LdapEntry{{"memberOf;range=0-1", {"CN=g0", "CN=g1"}}};
    });
    ASSERT_FALSE(stuck);
    EXPECT_EQ(stuck.error().status, 503u);
    EXPECT_EQ(fetches, 1);
    EXPECT_TRUE(with_all_values(user, entry(), nullptr)) << "a complete memberOf needs no fetch";

    // Ranges that progress without end (one value at a time, ever on): given up, not followed on.
    std::size_t endless = 0;
    const auto bounded =
        with_all_values(user, ranged, [&](const std::string& attribute) -> common::Result<LdapEntry> {
            const std::size_t from = std::stoul(attribute.substr(attribute.find('=') + 1));
            endless = from;
            return LdapEntry{
                {"memberOf;range=" + std::to_string(from) + "-" + std::to_string(from), {"CN=g"}}};
        });
    ASSERT_FALSE(bounded);
    EXPECT_EQ(bounded.error().status, 503u);
    EXPECT_NE(bounded.error().reason.find("more than 100000 values of memberOf"), std::string::npos)
        << bounded.error().reason;
    EXPECT_EQ(endless, 100'000u);
}

// Exchange's device lists are ranged like any multi-valued attribute: a blocked device beyond the
// first range must still be known as blocked.
TEST(AccountChecks, DeviceListsHandedOutInRangesAreReadToTheLast) {
    auto ranged = entry();
    ranged["msExchMobileAllowedDeviceIDs"] = {"ALLOWED1"};
    ranged["msExchMobileBlockedDeviceIDs;range=0-1"] = {"BLOCKED0", "BLOCKED1"};
    const auto first = judge_account(ranged, "ldaps://dc1", noon_2026_01_01);
    ASSERT_TRUE(first) << first.error();
    EXPECT_EQ((*first)->exchange_blocked_device_ids, (std::vector<std::string>{"BLOCKED0", "BLOCKED1"}));

    std::vector<std::string> asked;
    const auto all =
        with_all_values(*first, ranged, [&](const std::string& attribute) -> common::Result<LdapEntry> {
            asked.push_back(attribute);
            return LdapEntry{{"msExchMobileBlockedDeviceIDs;range=2-*", {"BLOCKED2"}}};
        });
    ASSERT_TRUE(all) << all.error();
    EXPECT_EQ((*all)->exchange_blocked_device_ids,
              (std::vector<std::string>{"BLOCKED0", "BLOCKED1", "BLOCKED2"}));
    EXPECT_EQ((*all)->exchange_allowed_device_ids, (std::vector<std::string>{"ALLOWED1"}));
    EXPECT_EQ((*all)->member_of, (*first)->member_of);
    EXPECT_EQ(asked, (std::vector<std::string>{"msExchMobileBlockedDeviceIDs;range=2-*"}));
}

}  // namespace
}  // namespace easgate::directory
