#include "easgate/directory/account_checks.hpp"

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <ctime>

#include "easgate/common/text.hpp"
#include "easgate/directory/directory_client.hpp"
#include "easgate/directory/security_identifier.hpp"

namespace easgate::directory {
namespace {

// userAccountControl
constexpr std::uint32_t account_disabled = 0x2;
constexpr std::uint32_t not_delegated = 0x100000;
// msDS-User-Account-Control-Computed: the DC works lockout out from lockoutTime and the lockout
// duration that applies to the account (the domain's, or a fine-grained password policy's).
constexpr std::uint32_t locked_out = 0x10;

// AD times (accountExpires, lockoutTime) are FILETIMEs: 100 ns ticks since 1601-01-01 UTC.
constexpr std::int64_t filetime_of_unix_epoch = 116'444'736'000'000'000;
constexpr std::int64_t never_expires = 0x7FFF'FFFF'FFFF'FFFF;

const std::string* first_value(const LdapEntry& entry, const std::string& attribute) {
    const auto it = entry.find(attribute);
    return it == entry.end() || it->second.empty() ? nullptr : &it->second.front();
}

std::optional<std::int64_t> number(const LdapEntry& entry, const std::string& attribute) {
    const auto* text = first_value(entry, attribute);
    std::int64_t value = 0;
    if (text == nullptr ||
        std::from_chars(text->data(), text->data() + text->size(), value).ec != std::errc{})
        return std::nullopt;
    return value;
}

std::int64_t filetime(std::chrono::system_clock::time_point when) {
    using ticks = std::chrono::duration<std::int64_t, std::ratio<1, 10'000'000>>;
    return std::chrono::duration_cast<ticks>(when.time_since_epoch()).count() + filetime_of_unix_epoch;
}

std::string filetime_text(std::int64_t filetime) {
    return utc_text(std::chrono::system_clock::from_time_t(
        static_cast<std::time_t>((filetime - filetime_of_unix_epoch) / 10'000'000)));
}

// whenCreated's GeneralizedTime as AD writes it, "20261206053343.0Z" (UTC; the fraction ignored).
std::optional<std::chrono::system_clock::time_point> generalized_time(const std::string* text) {
    std::tm utc{};
    if (text == nullptr || text->size() < 15 || text->back() != 'Z' ||
        strptime(text->c_str(), "%Y%m%d%H%M%S", &utc) != text->c_str() + 14)
        return std::nullopt;
    return std::chrono::system_clock::from_time_t(timegm(&utc));
}

// The multi-valued attributes a user is read with, and where the user keeps each.
struct ListAttribute {
    std::string_view name;
    std::vector<std::string> DirectoryUser::*values;
};
// Far beyond any real account (a user's token holds about a thousand groups); a directory handing
// out more, range after range, would hold a directory worker and its memory without end.
constexpr std::size_t max_list_values = 100'000;

constexpr ListAttribute list_attributes[] = {
    {"memberOf", &DirectoryUser::member_of},
    {"msExchMobileAllowedDeviceIDs", &DirectoryUser::exchange_allowed_device_ids},
    {"msExchMobileBlockedDeviceIDs", &DirectoryUser::exchange_blocked_device_ids},
};

}  // namespace

std::string utc_text(std::chrono::system_clock::time_point when) {
    const std::time_t seconds = std::chrono::system_clock::to_time_t(when);
    std::tm utc{};
    char text[32] = "?";
    if (gmtime_r(&seconds, &utc) != nullptr) std::strftime(text, sizeof text, "%Y-%m-%d %H:%M:%S UTC", &utc);
    return text;
}

RangedValues ranged_values(const LdapEntry& entry, std::string_view attribute) {
    if (const auto it = entry.find(std::string(attribute)); it != entry.end())
        return {it->second, std::nullopt};
    const std::string ranged = std::string(attribute) + ";range=";
    for (const auto& [name, values] : entry) {
        if (name.size() <= ranged.size() ||
            !common::equals_ignoring_case(name.substr(0, ranged.size()), ranged))
            continue;
        // "<low>-<high>", high "*" on the last range.
        const std::string_view range = std::string_view(name).substr(ranged.size());
        const auto dash = range.find('-');
        std::size_t high = 0;
        const auto last = range.substr(dash == std::string_view::npos ? range.size() : dash + 1);
        if (last == "*" || std::from_chars(last.data(), last.data() + last.size(), high).ec != std::errc{})
            return {values, std::nullopt};
        return {values, high + 1};
    }
    return {};
}

UserLookup with_all_values(FoundUser user, const LdapEntry& entry, const AttributeFetch& fetch) {
    std::shared_ptr<DirectoryUser> complete;  // a copy, made once a list is incomplete
    for (const auto& [attribute, list] : list_attributes) {
        auto next = ranged_values(entry, attribute).next;
        while (next) {
            const auto part = fetch(std::string(attribute) + ";range=" + std::to_string(*next) + "-*");
            if (!part) return part.error();
            auto more = ranged_values(*part, attribute);
            if (more.values.empty() || (more.next && *more.next <= *next)) {
                return common::Failure::unavailable(
                           "the directory gave no more of " + std::string(attribute) + " of " +
                           user->distinguished_name + " from value " + std::to_string(*next) + " on")
                    .because("unavailable");
            }
            if (!complete) complete = std::make_shared<DirectoryUser>(*user);
            auto& values = (*complete).*list;
            values.insert(values.end(), more.values.begin(), more.values.end());
            if (values.size() > max_list_values) {
                return common::Failure::unavailable(
                           "the directory handed out more than " + std::to_string(max_list_values) +
                           " values of " + std::string(attribute) + " of " + user->distinguished_name +
                           " and easgate read no further: check that directory server")
                    .because("unavailable");
            }
            next = more.next;
        }
    }
    if (!complete) return user;
    return FoundUser(std::move(complete));
}

const std::vector<std::string>& account_attributes() {
    static const std::vector<std::string> attributes = [] {
        std::vector<std::string> names{"userPrincipalName",
                                       "sAMAccountName",
                                       "userAccountControl",
                                       "msDS-User-Account-Control-Computed",
                                       "lockoutTime",
                                       "accountExpires",
                                       "distinguishedName",
                                       "objectSid",
                                       "mail",
                                       "whenCreated"};
        for (const auto& list : list_attributes) names.emplace_back(list.name);
        return names;
    }();
    return attributes;
}

UserLookup judge_account(const LdapEntry& entry, const std::string& uri,
                         std::chrono::system_clock::time_point now) {
    const auto* upn = first_value(entry, "userPrincipalName");
    const auto* sam = first_value(entry, "sAMAccountName");
    const auto* dn = first_value(entry, "distinguishedName");
    const auto control = number(entry, "userAccountControl");
    // The DC computes the lockout; without it a locked-out account would pass as unlocked.
    const auto computed = number(entry, "msDS-User-Account-Control-Computed");
    if (upn == nullptr || sam == nullptr || dn == nullptr || !control || !computed) {
        return common::Failure::unavailable(
                   "the account found on " + uri +
                   " lacks userPrincipalName, sAMAccountName, distinguishedName, userAccountControl or "
                   "msDS-User-Account-Control-Computed: let easgate's bind identity read them")
            .because("unavailable");
    }
    DirectoryUser user{*upn, *sam, *dn, static_cast<std::uint32_t>(*control), {}, {}, {}, {}, {}, {}};
    // The Exchange schema's device lists are left out of the answer of a directory without it.
    for (const auto& [attribute, list] : list_attributes) user.*list = ranged_values(entry, attribute).values;
    if (const auto* sid = first_value(entry, "objectSid")) user.object_sid = sid_text(*sid).value_or("");
    if (const auto* mail = first_value(entry, "mail")) user.mail = *mail;
    user.created = generalized_time(first_value(entry, "whenCreated"));

    if (user.user_account_control & account_disabled) {
        return common::Failure::refused(
            "disabled",
            "account " + *dn +
                " is disabled in Active Directory (userAccountControl ACCOUNTDISABLE 0x2): enable it to let "
                "the user in (AD Users and Computers → Enable Account; Enable-ADAccount)");
    }
    if (*computed & locked_out) {
        const auto since = number(entry, "lockoutTime");
        return common::Failure::refused("locked_out",
                                        "account " + *dn + " is locked out" +
                                            (since ? " since " + filetime_text(*since) : std::string()) +
                                            " (too many wrong passwords): it unlocks by itself after the "
                                            "domain's lockout duration, or unlock it now (AD Users and "
                                            "Computers → Account → Unlock account; Unlock-ADAccount)");
    }
    if (const auto expires = number(entry, "accountExpires");
        expires && *expires != 0 && *expires != never_expires && *expires <= filetime(now)) {
        return common::Failure::refused(
            "expired", "account " + *dn + " expired on " + filetime_text(*expires) +
                           " (accountExpires): extend it (AD Users and Computers → Account → "
                           "Account expires; Set-ADAccountExpiration) to let the user in");
    }
    if (user.user_account_control & not_delegated) {
        return common::Failure::refused(
            "not_delegable",
            "account " + *dn +
                " is marked \"Account is sensitive and cannot be delegated\" (userAccountControl "
                "NOT_DELEGATED 0x100000): easgate can't act for it; clear the flag to let the user in (AD "
                "Users and Computers → Account → Account options; Set-ADAccountControl "
                "-AccountNotDelegated $false)");
    }
    return std::make_shared<const DirectoryUser>(std::move(user));
}

DnDomain domain_of(std::string_view dn) {
    DnDomain domain;
    std::size_t rdn_start = 0;
    for (std::size_t at = 0; at <= dn.size(); ++at) {
        if (at < dn.size() && dn[at] == '\\') {
            ++at;  // the escaped character is the value's
            continue;
        }
        if (at < dn.size() && dn[at] != ',') continue;
        std::string_view rdn = dn.substr(rdn_start, at - rdn_start);
        while (!rdn.empty() && rdn.front() == ' ') rdn.remove_prefix(1);
        if (rdn.size() > 3 && common::equals_ignoring_case(rdn.substr(0, 3), "dc=")) {
            if (domain.start == std::string::npos) domain.start = rdn_start;
            if (!domain.dns_name.empty()) domain.dns_name += '.';
            domain.dns_name += rdn.substr(3);
        } else {
            domain = {};  // only the trailing run of DC= components names the domain
        }
        rdn_start = at + 1;
    }
    return domain;
}

std::string domain_dn(const std::string& dn) {
    const std::size_t start = domain_of(dn).start;
    return start == std::string::npos ? dn : dn.substr(start);
}

std::string protected_users_dn(const std::string& account_dn) {
    return "CN=Protected Users,CN=Users," + domain_dn(account_dn);
}

std::string protected_users_sid(const std::string& account_sid) {
    // A domain account's SID is S-1-5-21-<three sub-authorities of the domain>-<RID>.
    if (!account_sid.starts_with("S-1-5-21-") || std::count(account_sid.begin(), account_sid.end(), '-') != 7)
        return "";
    return account_sid.substr(0, account_sid.rfind('-')) + "-525";
}

std::string in_chain_filter(const std::string& group_dn) {
    return "(memberOf:1.2.840.113556.1.4.1941:=" + escape_filter_value(group_dn) + ")";
}

}  // namespace easgate::directory
