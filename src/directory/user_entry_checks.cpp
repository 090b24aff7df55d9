#include "user_entry_checks.hpp"

#include <utility>

#include "easgate/common/text.hpp"
#include "easgate/directory/security_identifier.hpp"

namespace easgate::directory {

UserLookup UserEntryChecks::complete(const LdapEntry& entry, FoundUser user) {
    const std::string dn = user->distinguished_name;
    // The rest of the lists AD handed out in ranges, from the user's own entry.
    auto whole = with_all_values(std::move(user), entry,
                                 [&](const std::string& attribute) -> common::Result<LdapEntry> {
                                     auto found = servers_.read_entry(connection_, dn, attribute);
                                     if (found.status.ok() && !found.entries.empty())
                                         return std::move(found.entries.front());
                                     return failed("reading " + attribute + " of " + dn, found);
                                 });
    if (!whole) return whole;
    return check_groups(std::move(*whole));
}

// Whether the account's token groups (nested groups and the primary group included, as the KDC
// counts them) hold its domain's Protected Users, found by its SID; nullopt when easgate may not
// read them (a hardened domain may keep tokenGroups from its bind identity) or the account has no
// domain SID.
common::Result<std::optional<bool>> UserEntryChecks::in_protected_users(const DirectoryUser& user) {
    const std::string wanted = protected_users_sid(user.object_sid);
    if (wanted.empty()) return std::optional<bool>();
    const auto found = servers_.read_entry(connection_, user.distinguished_name, "tokenGroups", true);
    if (!found.status.ok() || found.entries.empty())
        return failed("reading tokenGroups of " + user.distinguished_name, found);
    // Every account has its primary group there at least: none means easgate may not read it.
    bool readable = false;
    for (const auto& [attribute, values] : found.entries.front()) {
        if (!common::equals_ignoring_case(attribute, "tokenGroups")) continue;
        readable = !values.empty();
        for (const auto& value : values)
            if (sid_text(value) == wanted) return std::optional(true);
    }
    return readable ? std::optional(false) : std::optional<bool>();
}

// Nested membership, asked of the DC on the user's own entry.
common::Result<bool> UserEntryChecks::member_of(const std::string& dn, const std::string& group) {
    const auto found = servers_.match_entry(connection_, dn, in_chain_filter(group));
    if (found.status.ok()) return !found.entries.empty();
    return failed("the group search for " + dn, found);
}

// Protected Users (never delegable) and directory.require_group.
UserLookup UserEntryChecks::check_groups(FoundUser user) {
    const std::string& dn = user->distinguished_name;
    const auto by_sid = in_protected_users(*user);
    if (!by_sid) return by_sid.error();
    std::string group = "Protected Users (" + protected_users_sid(user->object_sid) + ")";
    bool is_protected = by_sid->value_or(false);
    if (!by_sid->has_value()) {  // without tokenGroups: by its English name, where a domain keeps it
        group = protected_users_dn(dn);
        const auto by_name = member_of(dn, group);
        if (!by_name) return by_name.error();
        is_protected = *by_name;
    }
    if (is_protected) {
        return common::Failure::refused(
            "protected_users", "account " + dn + " is a member of " + group +
                                   " (directly, through nested groups or as its primary group): Kerberos "
                                   "never delegates its members' credentials; take it out of Protected "
                                   "Users to let easgate act for it (Remove-ADGroupMember)");
    }
    if (config_.require_group.empty()) return user;
    const auto allowed = member_of(dn, config_.require_group);
    if (!allowed) return allowed.error();
    if (!*allowed) {
        return common::Failure::refused(
            "not_in_group", "account " + dn + " is not a member of directory.require_group (" +
                                config_.require_group +
                                "), directly or through nested groups: add it to let the user in");
    }
    return user;
}

common::Failure UserEntryChecks::failed(const std::string& what, const LdapSearchResult& found) {
    const std::string detail = what + " on " + connection_.uri() +
                               " failed: " + (found.status.ok() ? "no entry" : found.status.message);
    if (found.status.connection_lost()) connection_.close();
    server_unfit_ = server_unfit_ || found.status.server_unfit();
    return common::Failure::unavailable(detail).because("unavailable");
}

}  // namespace easgate::directory
