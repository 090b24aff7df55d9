#pragma once

// Whether an Active Directory account may use easgate, judged from its directory entry: the checks
// that need no more than the entry itself. Group membership (Protected Users,
// directory.require_group) needs a search of its own: protected_users_sid (or protected_users_dn)
// and in_chain_filter.

#include <chrono>
#include <cstddef>
#include <functional>
#include <map>
#include <optional>
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

// "2026-12-06 05:33:43 UTC", as refusals name AD's and certificates' times.
std::string utc_text(std::chrono::system_clock::time_point when);

// The values of a multi-valued attribute as far as the entry holds them. AD hands out at most
// MaxValRange (1500) values at a time: beyond that the entry has "<attribute>;range=0-1499" and
// `next` says where the rest starts ("<attribute>;range=1500-*" asks for it).
struct RangedValues {
    std::vector<std::string> values;
    std::optional<std::size_t> next;  // none: these are all
};
RangedValues ranged_values(const LdapEntry& entry, std::string_view attribute);

// The user with all of every list read (memberOf and Exchange's device lists: a blocked device
// beyond the first 1500 IDs must not pass), asking `fetch` (a base-scope search of the user's entry
// for the one attribute named) for each further range while the entry's is incomplete; unavailable
// when a fetch fails or brings no progress.
using AttributeFetch = std::function<common::Result<LdapEntry>(const std::string& attribute)>;
UserLookup with_all_values(FoundUser user, const LdapEntry& entry, const AttributeFetch& fetch);

// The domain a DN is in, from its trailing DC= components (a comma escaped with a backslash does
// not end a component): where they start in the DN (npos: none), and the DNS name they spell
// ("corp.example.com"), which in AD is the domain's Kerberos realm, in capitals.
struct DnDomain {
    std::size_t start = std::string::npos;
    std::string dns_name;
};
DnDomain domain_of(std::string_view dn);
// The domain's own DN of a DN under it ("OU=Staff,DC=corp,DC=example" → "DC=corp,DC=example"); the
// DN itself when it has no DC= components.
std::string domain_dn(const std::string& dn);

// The SID of the Protected Users group (well-known RID 525) of an account's domain, from the
// account's SID ("S-1-5-21-a-b-c-1105" → "S-1-5-21-a-b-c-525"); "" for a SID of no domain. By SID,
// not by name: a localized domain names the group in its language, and an admin may move it.
std::string protected_users_sid(const std::string& account_sid);

// Where a domain keeps Protected Users under its English name, for an account's DN: in CN=Users of
// the domain the account's DC= components name. Only where tokenGroups can't be read.
std::string protected_users_dn(const std::string& account_dn);

// Matches an entry that is a member of group_dn directly or through nested groups
// (LDAP_MATCHING_RULE_IN_CHAIN, 1.2.840.113556.1.4.1941); the DN is escaped for the filter.
std::string in_chain_filter(const std::string& group_dn);

}  // namespace easgate::directory
