#include <algorithm>
#include <cctype>
#include <cstdint>
#include <set>

#include "checks.hpp"
#include "directory_session.hpp"
#include "easgate/directory/directory_client.hpp"

namespace easgate::doctor {
namespace {

constexpr const char* delegation_area = "delegation";
constexpr std::uint32_t trusted_to_auth_for_delegation = 0x1000000;  // userAccountControl

std::string lower(std::string text) {
    std::transform(text.begin(), text.end(), text.begin(), [](unsigned char c) { return std::tolower(c); });
    return text;
}

// "HTTP/mail.example.test" of "HTTP/mail.example.test@EXAMPLE.TEST": AD stores SPNs without realm.
std::string spn_of(const std::string& service_principal) {
    return service_principal.substr(0, service_principal.find('@'));
}

std::string names_of(const std::vector<directory::LdapEntry>& entries) {
    std::string names;
    for (const auto& entry : entries)
        names += (names.empty() ? "" : " and ") + first_value(entry, "sAMAccountName") + " (" +
                 first_value(entry, "distinguishedName") + ")";
    return names;
}

directory::LdapSearchResult accounts_with_spn(DirectorySession& session, const std::string& spn) {
    return session.search_domain(
        "(servicePrincipalName=" + directory::escape_filter_value(spn) + ")",
        {"sAMAccountName", "distinguishedName", "objectSid", "msDS-AllowedToActOnBehalfOfOtherIdentity"});
}

// AD's default sPNMappings let the KDC find HTTP/<host> on the one account holding host/<host>: an
// Exchange server reached by its own name needs no HTTP SPN of its own.
std::optional<directory::LdapEntry> host_alias(DirectorySession& session, const std::string& spn) {
    if (lower(spn.substr(0, spn.find('/'))) != "http") return std::nullopt;
    const auto found = accounts_with_spn(session, "host/" + spn.substr(spn.find('/') + 1));
    if (!found.status.ok() || found.entries.size() != 1) return std::nullopt;
    return found.entries.front();
}

void report_missing(const std::string& spn, Report& report) {
    const std::string host = spn.substr(spn.find('/') + 1);
    std::string exchange_account = host.substr(0, host.find('.'));
    std::transform(exchange_account.begin(), exchange_account.end(), exchange_account.begin(),
                   [](unsigned char c) { return std::toupper(c); });
    report.fail(delegation_area, "target SPN " + spn,
                "spn_missing: no account in the domain has servicePrincipalName " + spn + " (setspn -Q " +
                    spn + " finds nothing), so the KDC can't issue tickets for Exchange",
                "register it on the account Exchange's IIS runs as: its computer account, or the "
                "Alternate Service Account when the Exchange servers are load-balanced: setspn -S " +
                    spn + " " + exchange_account + "$");
}

// setspn -Q across the domain: the KDC finds the target's key by its SPN, so it must be on exactly
// one account; a duplicate makes the KDC refuse (KDC_ERR_PRINCIPAL_NOT_UNIQUE) or pick the wrong key.
std::optional<directory::LdapEntry> check_target_spn(DirectorySession& session, const std::string& spn,
                                                     Report& report) {
    const auto found = accounts_with_spn(session, spn);
    const std::string check = "target SPN " + spn;
    if (!found.status.ok()) {
        report.skip(delegation_area, check,
                    "the search on " + session.uri() + " failed: " + found.status.message);
        return std::nullopt;
    }
    if (found.entries.empty()) {
        auto alias = host_alias(session, spn);
        if (alias)
            report.pass(delegation_area, check,
                        "not registered itself, but host/" + spn.substr(spn.find('/') + 1) + " is on " +
                            names_of({*alias}) + ", and AD's sPNMappings map HTTP to host");
        else
            report_missing(spn, report);
        return alias;
    }
    if (found.entries.size() > 1) {
        report.fail(delegation_area, check,
                    "spn_duplicated: " + spn + " is on " + names_of(found.entries) +
                        "; the KDC can't tell which account's key to use (setspn -X lists it)",
                    "keep it on the account Exchange runs as only: setspn -D " + spn +
                        " <the other account>, e.g. setspn -D " + spn + " " +
                        first_value(found.entries.back(), "sAMAccountName"));
        return std::nullopt;
    }
    report.pass(delegation_area, check, "on " + names_of(found.entries) + " only");
    return found.entries.front();
}

bool lists_spn(const directory::LdapEntry& gateway, const std::string& spn) {
    const auto allowed = gateway.find("msDS-AllowedToDelegateTo");
    if (allowed == gateway.end()) return false;
    return std::any_of(allowed->second.begin(), allowed->second.end(),
                       [&](const std::string& value) { return lower(spn_of(value)) == lower(spn); });
}

// Resource-based: the target's security descriptor names the gateway's SID in an ACE.
bool names_gateway(const directory::LdapEntry& target, const directory::LdapEntry& gateway) {
    const std::string descriptor = first_value(target, "msDS-AllowedToActOnBehalfOfOtherIdentity");
    const std::string sid = first_value(gateway, "objectSid");
    return !sid.empty() && descriptor.find(sid) != std::string::npos;
}

void check_protocol_transition(const directory::LdapEntry& gateway, const std::string& account,
                               Report& report) {
    const std::string value = first_value(gateway, "userAccountControl");
    const auto control = value.empty() ? 0UL : std::stoul(value);
    if ((control & trusted_to_auth_for_delegation) != 0) {
        report.pass(delegation_area, "protocol transition",
                    account + " is trusted to authenticate for delegation (TRUSTED_TO_AUTH_FOR_DELEGATION)");
        return;
    }
    report.fail(delegation_area, "protocol transition",
                "delegation_not_allowed: protocol transition is off: " + account +
                    " may delegate with Kerberos only (userAccountControl lacks "
                    "TRUSTED_TO_AUTH_FOR_DELEGATION 0x1000000): its S4U2Self tickets are not forwardable, so "
                    "S4U2Proxy is refused for certificate users",
                "Active Directory Users and Computers → " + account +
                    " → Delegation tab → select \"Use any authentication protocol\" (not \"Use Kerberos "
                    "only\"); or PowerShell: Set-ADAccountControl -Identity '" +
                    account + "' -TrustedToAuthForDelegation $true");
}

// How PowerShell names easgate's account: a computer account's sAMAccountName ends in $, which
// Set-ADComputer's identity leaves out; a user (service) account is Set-ADUser's.
std::string set_ad_account(const std::string& account) {
    if (account.ends_with('$')) return "Set-ADComputer '" + account.substr(0, account.size() - 1) + "'";
    return "Set-ADUser '" + account + "'";
}

void check_may_delegate(const directory::LdapEntry& gateway, const std::string& account,
                        const std::optional<directory::LdapEntry>& target, const std::string& spn,
                        Report& report) {
    const std::string check = "delegation to " + spn;
    if (lists_spn(gateway, spn)) {
        report.pass(delegation_area, check, spn + " is in msDS-AllowedToDelegateTo of " + account);
        check_protocol_transition(gateway, account, report);
        return;
    }
    if (target && names_gateway(*target, gateway)) {
        report.pass(delegation_area, check,
                    "resource-based: msDS-AllowedToActOnBehalfOfOtherIdentity of " +
                        first_value(*target, "sAMAccountName") + " names " + account +
                        ". The KDC (Windows Server 2012 or later) accepts the gateway's S4U2Self ticket "
                        "for it even though that ticket is not forwardable, so protocol transition works "
                        "without \"Use any authentication protocol\"; users marked sensitive or in "
                        "Protected Users are still refused");
        return;
    }
    report.fail(delegation_area, check,
                "delegation_not_allowed: " + spn + " is not in msDS-AllowedToDelegateTo of " + account +
                    (target ? ", and " + first_value(*target, "sAMAccountName") +
                                  " has no resource-based delegation for it"
                            : std::string()),
                "Active Directory Users and Computers → " + account + " → Delegation tab → \"Trust this " +
                    (account.ends_with('$') ? "computer" : "user") +
                    " for delegation to specified services only\" → \"Use any authentication protocol\" → "
                    "Add… " +
                    spn + "; or PowerShell: " + set_ad_account(account) +
                    " -Add @{'msDS-AllowedToDelegateTo'='" + spn + "'} and Set-ADAccountControl -Identity '" +
                    account + "' -TrustedToAuthForDelegation $true");
}

// The KDC answers S4U2Self only for an account with an SPN (KDC_ERR_S_PRINCIPAL_UNKNOWN otherwise),
// and a computer account made by hand (New-ADComputer, or ADUC) has none.
void check_gateway_spn(const directory::LdapEntry& gateway, const std::string& account, Report& report) {
    const auto spns = gateway.find("servicePrincipalName");
    if (spns != gateway.end() && !spns->second.empty()) {
        report.pass(delegation_area, "easgate's SPN", account + " has " + spns->second.front());
        return;
    }
    report.fail(delegation_area, "easgate's SPN",
                "service_without_spn: " + account +
                    " has no servicePrincipalName, and the KDC answers S4U2Self only for an account with one "
                    "(KDC_ERR_S_PRINCIPAL_UNKNOWN)",
                "setspn -S host/<easgate's host name> " + account);
}

}  // namespace

void check_delegation_setup(const config::Config& config, Report& report) {
    if (!config.kerberos || !config.directory) {
        report.skip(delegation_area, "delegation",
                    "needs the kerberos: and directory: sections to read AD's settings");
        return;
    }
    const std::string account = account_name(config.kerberos->principal);
    std::string error;
    std::optional<directory::LdapEntry> gateway;
    std::optional<DirectorySession> session;
    try {
        session.emplace(*config.directory, &*config.kerberos);
        const auto opened = session->open_any();
        if (opened.ok())
            gateway = session->account(
                account, error,
                {"userAccountControl", "msDS-AllowedToDelegateTo", "objectSid", "servicePrincipalName"});
        else
            error = opened.message;
    } catch (const config::ConfigError& e) {
        error = e.what();
    }
    if (!error.empty()) {
        report.skip(delegation_area, "delegation",
                    "can't read the directory (see the directory checks): " + error);
        return;
    }
    if (!gateway) {
        report.fail(delegation_area, "gateway account",
                    "no account " + account + " in the domain (" + session->domain_dn() + ")",
                    "check kerberos.principal: it must name easgate's own AD account");
        return;
    }
    check_gateway_spn(*gateway, account, report);
    std::set<std::string> done;
    for (const auto& upstream : config.upstreams) {
        const std::string spn = spn_of(upstream.service_principal);
        if (spn.empty() || !done.insert(lower(spn)).second) continue;
        const auto target = check_target_spn(*session, spn, report);
        check_may_delegate(*gateway, account, target, spn, report);
    }
}

}  // namespace easgate::doctor
