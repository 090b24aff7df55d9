// The policy: section: read, checked at load with the key and the fix named, and written back.
#include <gtest/gtest.h>

#include "config_fixture.hpp"

namespace easgate::config {
namespace {

class PolicyConfigTest : public ConfigTest {
protected:
    // A policy with one rule whose body is `rule` (flow mapping entries), at line 16.
    std::string with_rule(const std::string& rule, const std::string& policy_extra = "") const {
        return valid("",
                     "policy:\n" + policy_extra + "  rules:\n    - {name: r1, action: deny, " + rule + "}\n");
    }
};

TEST_F(PolicyConfigTest, ReadsEveryTermInOrderWithTheDefault) {
    const auto config = load(valid("",
                                   "policy:\n"
                                   "  default: deny\n"
                                   "  rules:\n"
                                   "    - name: old-android\n"
                                   "      action: deny\n"
                                   "      device_types: [Android]\n"
                                   "      protocol_versions: [12.1, \"14.0\"]\n"
                                   "      user_agents: ['^Android/4\\.']\n"
                                   "    - name: staff\n"
                                   "      action: allow\n"
                                   "      users: [alice@example.test]\n"
                                   "      device_ids: [ABC]\n"
                                   "      commands: [Sync, Ping]\n"
                                   "      source_networks: [10.0.0.0/8, '2001:db8::/32', 192.0.2.7]\n"));
    ASSERT_TRUE(config.policy);
    const auto& policy = *config.policy;
    EXPECT_EQ(policy.default_action, PolicyAction::deny);
    ASSERT_EQ(policy.rules.size(), 2u);
    EXPECT_EQ(policy.rules[0].name, "old-android");
    EXPECT_EQ(policy.rules[0].action, PolicyAction::deny);
    EXPECT_EQ(policy.rules[0].protocol_versions, (std::vector<std::string>{"12.1", "14.0"}));
    EXPECT_EQ(policy.rules[1].action, PolicyAction::allow);
    EXPECT_EQ(policy.rules[1].source_networks.size(), 3u);
    EXPECT_EQ(load(to_yaml(config)).policy->rules[1].commands, (std::vector<std::string>{"Sync", "Ping"}));
    EXPECT_EQ(to_yaml(load(to_yaml(config))), to_yaml(config));
}

TEST_F(PolicyConfigTest, DefaultIsAllowAndWithoutTheSectionThereIsNoPolicy) {
    EXPECT_FALSE(load(valid()).policy);
    EXPECT_EQ(load(with_rule("device_types: [Android]")).policy->default_action, PolicyAction::allow);
}

TEST_F(PolicyConfigTest, RefusesAnUnknownAction) {
    EXPECT_EQ(error_of(valid("", "policy:\n  rules:\n    - {name: r1, action: block, device_ids: [A]}\n")),
              "policy.rules[0].action: expected one of allow | deny, got \"block\" (line 16)");
    EXPECT_EQ(error_of(with_rule("device_ids: [A]", "  default: quarantine\n")),
              "policy.default: expected one of allow | deny, got \"quarantine\" (line 15)");
}

TEST_F(PolicyConfigTest, RefusesABadNetworkNamingTheFix) {
    const auto expected = [](const std::string& text) {
        return "policy.rules[0].source_networks[0]: expected an address or a network such as 10.0.0.0/8 or "
               "2001:db8::/32 (no host bits below the prefix), got \"" +
               text + "\" (line 16)";
    };
    EXPECT_EQ(error_of(with_rule("source_networks: [10.0.0.0/33]")), expected("10.0.0.0/33"));
    EXPECT_EQ(error_of(with_rule("source_networks: [10.1.0.0/8]")), expected("10.1.0.0/8"));
    EXPECT_EQ(error_of(with_rule("source_networks: [intranet]")), expected("intranet"));
    EXPECT_EQ(error_of(with_rule("source_networks: [10.0.0.0/]")), expected("10.0.0.0/"));
}

TEST_F(PolicyConfigTest, RefusesABadRegularExpression) {
    const auto error = error_of(with_rule("user_agents: ['Android(']"));
    EXPECT_TRUE(error.starts_with("policy.rules[0].user_agents[0]: not a valid regular expression: "))
        << error;
    EXPECT_TRUE(error.ends_with("(line 16)")) << error;
}

TEST_F(PolicyConfigTest, RefusesAnUnknownProtocolVersionAndTerm) {
    EXPECT_EQ(
        error_of(with_rule("protocol_versions: [16]")),
        "policy.rules[0].protocol_versions[0]: expected one of 2.0 | 2.1 | 2.5 | 12.0 | 12.1 | 14.0 | 14.1 | "
        "16.0 | 16.1, got \"16\" (line 16)");
    EXPECT_EQ(error_of(with_rule("device_id: [A]")), "policy.rules[0].device_id: unknown key (line 16)");
}

TEST_F(PolicyConfigTest, RuleNamesAreUniqueWordsAndEveryRuleHasATerm) {
    EXPECT_EQ(error_of(valid("",
                             "policy:\n  rules:\n    - {name: a, action: deny, device_ids: [A]}\n"
                             "    - {name: a, action: allow, device_ids: [B]}\n")),
              "policy.rules[1].name: \"a\" names another rule or one easgate reserves (default, "
              "exchange_blocked_devices, exchange_allowed_devices): pick another name (line 17)");
    EXPECT_EQ(
        error_of(valid("", "policy:\n  rules:\n    - {name: default, action: deny, device_ids: [A]}\n")),
        "policy.rules[0].name: \"default\" names another rule or one easgate reserves (default, "
        "exchange_blocked_devices, exchange_allowed_devices): pick another name (line 16)");
    EXPECT_NE(error_of(valid("",
                             "policy:\n  rules:\n    - {name: exchange_allowed_devices, action: deny, "
                             "device_ids: [A]}\n"))
                  .find("one easgate reserves"),
              std::string::npos);
    EXPECT_EQ(
        error_of(valid("", "policy:\n  rules:\n    - {name: 'a b', action: deny, device_ids: [A]}\n")),
        "policy.rules[0].name: expected up to 64 letters, digits, '-', '_' or '.', got \"a b\" (line 16)");
    EXPECT_EQ(error_of(valid("", "policy:\n  rules:\n    - {name: everything, action: deny}\n")),
              "policy.rules[0]: the rule lists no term, so it would match every request: set policy.default "
              "instead (line 16)");
    EXPECT_EQ(
        error_of(valid("", "policy:\n  default: deny\n")),
        "policy: policy.rules lists no rule and use_exchange_device_lists is off, so policy.default alone "
        "would decide every request: list a rule, turn on use_exchange_device_lists, or leave policy: out "
        "(line 15)");
}

TEST_F(PolicyConfigTest, ExchangeDeviceListsAreOffByDefaultAndNeedTheDirectory) {
    EXPECT_FALSE(load(with_rule("device_ids: [A]")).policy->use_exchange_device_lists);
    EXPECT_EQ(error_of(valid("",
                             "policy:\n  use_exchange_device_lists: true\n  rules:\n"
                             "    - {name: a, action: deny, device_ids: [A]}\n")),
              "policy.use_exchange_device_lists: the users' device lists come from the directory: add the "
              "directory: section (line 15)");
}

// An admin who wants only Exchange's own lists writes no rule.
TEST_F(PolicyConfigTest, ExchangeDeviceListsAloneNeedNoRule) {
    const auto config =
        load(valid("",
                   "directory:\n  uris: [ldaps://dc1]\n  base_dn: DC=example,DC=test\n  bind: "
                   "{method: simple, dn: \"CN=x,DC=example,DC=test\", password_file: " +
                       path("easgate.keytab") + "}\npolicy:\n  use_exchange_device_lists: true\n"));
    ASSERT_TRUE(config.policy);
    EXPECT_TRUE(config.policy->use_exchange_device_lists);
    EXPECT_TRUE(config.policy->rules.empty());
    EXPECT_TRUE(load(to_yaml(config)).policy->use_exchange_device_lists);
}

TEST_F(PolicyConfigTest, GroupsNeedTheDirectory) {
    EXPECT_EQ(error_of(with_rule("groups: [Mobile Users]")),
              "policy.rules[0].groups: group membership comes from the directory: add the directory: section "
              "(line 16)");
}

}  // namespace
}  // namespace easgate::config
