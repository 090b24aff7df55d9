// The device policy's matching: each term allows and denies, the first matching rule decides, the
// default decides the rest, and a request lacking a field never matches a term on it.
#include "easgate/pipeline/device_policy.hpp"

#include <gtest/gtest.h>

#include <functional>

namespace easgate::pipeline {
namespace {

using config::PolicyAction;
using config::PolicyRule;

// alice on an iPhone, from 10.1.2.3, syncing with protocol 16.1.
class DevicePolicyTest : public ::testing::Test {
protected:
    DevicePolicyTest() {
        identity_.upn = "alice@example.test";
        user_ = {"Alice@EXAMPLE.TEST",
                 "alice",
                 "CN=Alice,OU=Staff,DC=example,DC=test",
                 0x200,
                 {"CN=Mobile Users,OU=Groups,DC=example,DC=test",
                  "CN=Sales\\, EMEA,OU=Groups,DC=example,DC=test"}};
        eas_.path = eas::EasPath::active_sync;
        eas_.command = "Sync";
        eas_.device_id = "ABC123";
        eas_.device_type = "iPhone";
        eas_.protocol_version = "16.1";
        eas_.user_agent = "Apple-iPhone14C2/2008.123";
    }

    PolicySubject subject() const {
        return {&identity_, &user_, &eas_, boost::asio::ip::make_address("10.1.2.3")};
    }

    // What a policy of `rule` (as its only rule, with `default_action`) decides for the subject.
    static std::string decide(PolicyRule rule, const PolicySubject& subject,
                              PolicyAction default_action = PolicyAction::allow) {
        rule.name = "r";
        const DevicePolicy policy(config::PolicyConfig{default_action, {rule}});
        const auto decision = policy.decide(subject);
        return std::string(decision.rule) + (decision.action == PolicyAction::allow ? ":allow" : ":deny");
    }

    // A deny rule with one term set to `values`: matches, so denies; with `other` it does not.
    void expect_term(std::vector<std::string> PolicyRule::*term, std::vector<std::string> values,
                     std::vector<std::string> other) {
        PolicyRule rule{.action = PolicyAction::deny};
        rule.*term = std::move(values);
        EXPECT_EQ(decide(rule, subject()), "r:deny");
        rule.*term = std::move(other);
        EXPECT_EQ(decide(rule, subject()), "default:allow");
        rule.action = PolicyAction::allow;  // and the other way round, under a default of deny
        EXPECT_EQ(decide(rule, subject(), PolicyAction::deny), "default:deny");
    }

    identity::CertificateIdentity identity_;
    directory::DirectoryUser user_;
    eas::EasRequest eas_;
};

TEST_F(DevicePolicyTest, UsersMatchTheUpnOrSamAccountNameIgnoringCase) {
    expect_term(&PolicyRule::users, {"ALICE@example.test"}, {"bob@example.test"});
    expect_term(&PolicyRule::users, {"bob", "Alice"}, {"alic"});
}

TEST_F(DevicePolicyTest, UsersMatchTheAccountsMailToo) {
    user_.mail = "Alice.Smith@mail.example.test";
    expect_term(&PolicyRule::users, {"alice.smith@mail.example.test"}, {"smith@mail.example.test"});
}

// A certificate the directory maps to another account (by its SID extension or altSecurityIdentities)
// than the UPN it names is judged as that account: bob's certificate claiming alice's UPN is bob's.
TEST_F(DevicePolicyTest, WithADirectoryTheAccountDecidesNotTheNameTheCertificateClaims) {
    user_ = {"bob@example.test", "bob", "CN=Bob,OU=Staff,DC=example,DC=test", 0x200, {}};
    EXPECT_EQ(decide({.action = PolicyAction::allow, .users = {"alice@example.test"}}, subject(),
                     PolicyAction::deny),
              "default:deny");
    EXPECT_EQ(decide({.action = PolicyAction::deny, .users = {"bob"}}, subject()), "r:deny");
}

TEST_F(DevicePolicyTest, UsersMatchTheCertificateAloneWithoutADirectory) {
    auto without_directory = subject();
    without_directory.user = nullptr;
    EXPECT_EQ(decide({.action = PolicyAction::deny, .users = {"alice@example.test"}}, without_directory),
              "r:deny");
    EXPECT_EQ(decide({.action = PolicyAction::deny, .users = {"alice"}}, without_directory), "default:allow");
}

TEST_F(DevicePolicyTest, GroupsMatchADirectGroupByCommonNameOrDistinguishedName) {
    expect_term(&PolicyRule::groups, {"mobile users"}, {"Mobile"});
    expect_term(&PolicyRule::groups, {"cn=mobile users,ou=groups,dc=example,dc=test"},
                {"CN=Mobile Users,DC=example,DC=test"});
    expect_term(&PolicyRule::groups, {"Sales\\, EMEA"}, {"Sales"});
}

TEST_F(DevicePolicyTest, WithoutACertificateUserAndGroupTermsNeverMatch) {
    const PolicySubject anonymous{nullptr, nullptr, &eas_, boost::asio::ip::make_address("10.1.2.3")};
    EXPECT_EQ(decide({.action = PolicyAction::allow, .users = {"alice@example.test"}}, anonymous,
                     PolicyAction::deny),
              "default:deny");
    EXPECT_EQ(decide({.action = PolicyAction::deny, .groups = {"Mobile Users"}}, anonymous), "default:allow");
}

TEST_F(DevicePolicyTest, DeviceIdsAndTypesMatchIgnoringCase) {
    expect_term(&PolicyRule::device_ids, {"abc123"}, {"ABC12"});
    expect_term(&PolicyRule::device_types, {"Android", "IPHONE"}, {"Android"});
}

TEST_F(DevicePolicyTest, UserAgentsAreRegularExpressionsFoundAnywhereIgnoringCase) {
    expect_term(&PolicyRule::user_agents, {"^apple-iphone1[3-9]"}, {"^Android", "iPhone13"});
}

TEST_F(DevicePolicyTest, CommandsAndProtocolVersions) {
    expect_term(&PolicyRule::commands, {"SendMail", "sync"}, {"Ping"});
    expect_term(&PolicyRule::protocol_versions, {"14.1", "16.1"}, {"16.0"});
}

TEST_F(DevicePolicyTest, SourceNetworksInIpv4AndIpv6AndIpv4Mapped) {
    expect_term(&PolicyRule::source_networks, {"192.0.2.0/24", "10.0.0.0/8"},
                {"10.1.3.0/24", "2001:db8::/32"});
    auto mapped = subject();
    mapped.peer = boost::asio::ip::make_address("::ffff:10.1.2.3");
    EXPECT_EQ(decide({.action = PolicyAction::deny, .source_networks = {"10.1.2.3"}}, mapped), "r:deny");
    auto v6 = subject();
    v6.peer = boost::asio::ip::make_address("2001:db8::1");
    EXPECT_EQ(decide({.action = PolicyAction::deny, .source_networks = {"2001:db8::/32"}}, v6), "r:deny");
    EXPECT_EQ(decide({.action = PolicyAction::deny, .source_networks = {"2001:db9::/32"}}, v6),
              "default:allow");
}

TEST_F(DevicePolicyTest, EveryTermOfARuleMustMatch) {
    const PolicyRule rule{.action = PolicyAction::deny, .device_types = {"iPhone"}, .commands = {"SendMail"}};
    EXPECT_EQ(decide(rule, subject()), "default:allow");
    eas_.command = "SendMail";
    EXPECT_EQ(decide(rule, subject()), "r:deny");
}

TEST_F(DevicePolicyTest, ARequestWithoutDeviceFieldsMatchesNoDeviceTerm) {
    eas::EasRequest autodiscover;
    autodiscover.path = eas::EasPath::autodiscover;
    auto subject_of_autodiscover = subject();
    subject_of_autodiscover.eas = &autodiscover;
    for (auto term : {&PolicyRule::device_ids, &PolicyRule::device_types, &PolicyRule::user_agents,
                      &PolicyRule::commands, &PolicyRule::protocol_versions}) {
        PolicyRule rule{.action = PolicyAction::deny};
        rule.*term = {".*"};
        EXPECT_EQ(decide(rule, subject_of_autodiscover), "default:allow");
    }
}

TEST_F(DevicePolicyTest, TheFirstMatchingRuleDecidesAndIsCounted) {
    const DevicePolicy policy(
        config::PolicyConfig{PolicyAction::deny,
                             {{.name = "no-sendmail", .action = PolicyAction::deny, .commands = {"SendMail"}},
                              {.name = "iphones", .action = PolicyAction::allow, .device_types = {"iPhone"}},
                              {.name = "alice", .action = PolicyAction::deny, .users = {"alice"}}}});
    EXPECT_EQ(policy.decide(subject()).rule, "iphones");
    eas_.command = "SendMail";
    EXPECT_EQ(policy.decide(subject()).rule, "no-sendmail");
    eas_.device_type = "Android";
    eas_.command = "Sync";
    EXPECT_EQ(policy.decide(subject()).rule, "alice");
    identity_.upn = "bob@example.test";
    user_ = {};
    const auto decision = policy.decide(subject());
    EXPECT_EQ(decision.rule, "default");
    EXPECT_EQ(decision.action, PolicyAction::deny);

    const auto counts = policy.counts();
    ASSERT_EQ(counts.size(), 4u);
    for (const auto& count : counts) EXPECT_EQ(count.decisions, 1u) << count.rule;
    EXPECT_EQ(counts[3].rule, "default");
    EXPECT_EQ(counts[3].action, PolicyAction::deny);
}

// What Exchange does with its per-user lists (msExchMobileBlockedDeviceIDs and
// msExchMobileAllowedDeviceIDs), before any rule; off unless policy.use_exchange_device_lists.
TEST_F(DevicePolicyTest, ExchangeDeviceListsBlockOrAllowListBeforeTheRules) {
    config::PolicyConfig config{
        PolicyAction::allow,
        {{.name = "iphones", .action = PolicyAction::allow, .device_types = {"iPhone"}}}};
    config.use_exchange_device_lists = true;
    const DevicePolicy policy(config);
    EXPECT_EQ(policy.decide(subject()).rule, "iphones");  // empty lists: the rules decide
    user_.exchange_blocked_device_ids = {"abc123"};
    const auto blocked = policy.decide(subject());
    EXPECT_EQ(blocked.rule, "exchange_blocked_devices");
    EXPECT_EQ(blocked.action, PolicyAction::deny);
    user_.exchange_blocked_device_ids = {"OTHER"};
    user_.exchange_allowed_device_ids = {"PHONE2"};
    EXPECT_EQ(policy.decide(subject()).rule, "exchange_allowed_devices");
    user_.exchange_allowed_device_ids = {"PHONE2", "ABC123"};
    EXPECT_EQ(policy.decide(subject()).rule, "iphones");
    eas_.device_id.clear();  // autodiscover: no DeviceId, the lists don't apply
    user_.exchange_allowed_device_ids = {"PHONE2"};
    EXPECT_EQ(policy.decide(subject()).rule, "iphones");

    const auto counts = policy.counts();
    ASSERT_EQ(counts.size(), 4u);
    EXPECT_EQ(counts[2].rule, "exchange_blocked_devices");
    EXPECT_EQ(counts[2].decisions, 1u);
    EXPECT_EQ(counts[3].rule, "exchange_allowed_devices");
    EXPECT_EQ(counts[3].decisions, 1u);

    config.use_exchange_device_lists = false;
    user_.exchange_blocked_device_ids = {"ABC123"};
    eas_.device_id = "ABC123";
    EXPECT_EQ(DevicePolicy(config).decide(subject()).rule, "iphones");
}

}  // namespace
}  // namespace easgate::pipeline
