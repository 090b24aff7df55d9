#pragma once

// Whether an Active Directory account may use easgate, judged from its directory entry: the checks
// that need no more than the entry itself. Group membership (Protected Users,
// directory.require_group) needs a search of its own: protected_users_dn and in_chain_filter.

#include <chrono>
#include <cstddef>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "easgate/directory/directory_client.hpp"

namespace easgate::directory {

// Attribute name (as requested) -> values; attributes the entry lacks are absent.
using LdapEntry = std::map<std::string, std::vector<std::string>>;

// What the user search asks for: everything judge_account reads.
const std::vector<std::string>& account_attributes();

// The user when the account is enabled, not locked out, not expired and delegable; otherwise a
// Failure::refused with its cause (disabled, locked_out, expired, not_delegable), naming the
// account and the fix. An entry lacking what easgate must read is unavailable: the bind identity's
// rights, not the user, are wrong. uri names the directory server for that message.
UserLookup judge_account(const LdapEntry& entry, const std::string& uri,
                         std::chrono::system_clock::time_point now);

// The domain a DN is in, from its trailing DC= components (a comma escaped with a backslash does
// not end a component): where they start in the DN (npos: none), and the DNS name they spell
// ("corp.example.com"), which in AD is the domain's Kerberos realm, in capitals.
struct DnDomain {
    std::size_t start = std::string::npos;
    std::string dns_name;
};
DnDomain domain_of(std::string_view dn);

// The domain's Protected Users group (well-known RID 525) for an account's DN: in CN=Users of the
// domain the account's DC= components name.
std::string protected_users_dn(const std::string& account_dn);

// Matches an entry that is a member of group_dn directly or through nested groups
// (LDAP_MATCHING_RULE_IN_CHAIN, 1.2.840.113556.1.4.1941); the DN is escaped for the filter.
std::string in_chain_filter(const std::string& group_dn);

}  // namespace easgate::directory
