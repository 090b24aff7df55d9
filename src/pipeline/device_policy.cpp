#include "easgate/pipeline/device_policy.hpp"

#include <algorithm>
#include <optional>

#include "easgate/common/text.hpp"

namespace easgate::pipeline {
namespace {

using common::equals_ignoring_case;

// A term lists values; it matches when any of them does. An empty list is no term: it matches.
template <class Values, class Test>
bool term(const Values& values, Test test) {
    return values.empty() || std::ranges::any_of(values, test);
}

// A field the request lacks ("") matches no value.
bool same_name(std::string_view configured, std::string_view field) {
    return !field.empty() && equals_ignoring_case(configured, field);
}

// The value of a DN's first RDN when it is a CN ("CN=Mobile Users,OU=…" → "Mobile Users"), as
// stored: escaped characters stay escaped.
std::string_view common_name(std::string_view dn) {
    if (!equals_ignoring_case(dn.substr(0, 3), "CN=")) return {};
    std::size_t end = 3;
    while (end < dn.size() && dn[end] != ',') end += dn[end] == '\\' ? 2 : 1;
    return dn.substr(3, std::min(end, dn.size()) - 3);
}

// A configured group is a full DN (it has '=') or a group's CN.
bool names_group(std::string_view configured, std::string_view dn) {
    if (configured.find('=') != std::string_view::npos) return equals_ignoring_case(configured, dn);
    return same_name(configured, common_name(dn));
}

// Exchange's own per-user lists, as Exchange applies them: a blocked device never syncs; with an
// allowed list, only the devices on it do. A request without a DeviceId (autodiscover) is not
// judged here.
std::optional<std::string_view> exchange_list_denial(const PolicySubject& s) {
    if (!s.user || !s.eas || s.eas->device_id.empty()) return std::nullopt;
    const auto listed = [&](const std::vector<std::string>& ids) {
        return std::ranges::any_of(ids,
                                   [&](const std::string& id) { return same_name(id, s.eas->device_id); });
    };
    if (listed(s.user->exchange_blocked_device_ids)) return config::exchange_blocked_devices_rule;
    if (!s.user->exchange_allowed_device_ids.empty() && !listed(s.user->exchange_allowed_device_ids))
        return config::exchange_allowed_devices_rule;
    return std::nullopt;
}

}  // namespace

struct DevicePolicy::Rule {
    config::PolicyRule terms;  // the name and the terms compared as text
    std::vector<common::TextPattern> user_agents;
    std::vector<common::IpNetwork> source_networks;

    explicit Rule(const config::PolicyRule& rule) : terms(rule) {
        for (const auto& pattern : rule.user_agents) user_agents.emplace_back(pattern);
        for (const auto& network : rule.source_networks)
            source_networks.push_back(*common::IpNetwork::parse(network));
    }

    bool matches(const PolicySubject& s) const { return matches_user(s) && matches_device(s); }

    // Without a certificate there is no user: user and group terms don't match. With a directory,
    // the account's names decide: a certificate that the SID extension or altSecurityIdentities
    // maps to bob is bob's, whatever UPN it names.
    bool matches_user(const PolicySubject& s) const {
        return term(terms.users,
                    [&](const std::string& user) {
                        if (!s.identity) return false;
                        if (!s.user) return same_name(user, s.identity->principal_name());
                        return same_name(user, s.user->upn) || same_name(user, s.user->sam_account_name) ||
                               (!s.user->mail.empty() && same_name(user, s.user->mail));
                    }) &&
               term(terms.groups, [&](const std::string& group) {
                   return s.user && std::ranges::any_of(s.user->member_of, [&](const std::string& dn) {
                              return names_group(group, dn);
                          });
               });
    }

    bool matches_device(const PolicySubject& s) const {
        static const eas::EasRequest none;
        const auto& eas = s.eas ? *s.eas : none;
        const auto named = [](const std::string& field) {
            return [&field](const std::string& value) { return same_name(value, field); };
        };
        return term(terms.device_ids, named(eas.device_id)) &&
               term(terms.device_types, named(eas.device_type)) && term(terms.commands, named(eas.command)) &&
               term(terms.protocol_versions, named(eas.protocol_version)) &&
               term(user_agents,
                    [&](const common::TextPattern& agent) {
                        return !eas.user_agent.empty() && agent.found_in(eas.user_agent);
                    }) &&
               term(source_networks,
                    [&](const common::IpNetwork& network) { return network.contains(s.peer); });
    }
};

DevicePolicy::DevicePolicy(const config::PolicyConfig& policy)
    : default_action_(policy.default_action),
      use_exchange_device_lists_(policy.use_exchange_device_lists),
      decided_(std::make_unique<std::atomic<std::uint64_t>[]>(policy.rules.size() + 3)) {
    for (const auto& rule : policy.rules) rules_.emplace_back(rule);
}

DevicePolicy::~DevicePolicy() = default;

PolicyDecision DevicePolicy::decide(const PolicySubject& subject) const {
    if (use_exchange_device_lists_) {
        if (const auto denial = exchange_list_denial(subject)) {
            const bool blocked = *denial == config::exchange_blocked_devices_rule;
            decided_[rules_.size() + (blocked ? 1 : 2)].fetch_add(1, std::memory_order_relaxed);
            return {config::PolicyAction::deny, *denial};
        }
    }
    const auto rule = std::ranges::find_if(rules_, [&](const Rule& r) { return r.matches(subject); });
    const auto index = static_cast<std::size_t>(rule - rules_.begin());
    decided_[index].fetch_add(1, std::memory_order_relaxed);
    if (rule == rules_.end()) return {default_action_, "default"};
    return {rule->terms.action, rule->terms.name};
}

std::vector<DevicePolicy::Count> DevicePolicy::counts() const {
    std::vector<Count> counts;
    for (std::size_t i = 0; i < rules_.size(); ++i)
        counts.push_back(
            {rules_[i].terms.name, rules_[i].terms.action, decided_[i].load(std::memory_order_relaxed)});
    counts.push_back({"default", default_action_, decided_[rules_.size()].load(std::memory_order_relaxed)});
    if (use_exchange_device_lists_) {
        counts.push_back({config::exchange_blocked_devices_rule, config::PolicyAction::deny,
                          decided_[rules_.size() + 1].load(std::memory_order_relaxed)});
        counts.push_back({config::exchange_allowed_devices_rule, config::PolicyAction::deny,
                          decided_[rules_.size() + 2].load(std::memory_order_relaxed)});
    }
    return counts;
}

}  // namespace easgate::pipeline
