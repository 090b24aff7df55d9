#include "easgate/delegation/kerberos_errors.hpp"

#include <cerrno>
#include <cstdlib>
#include <string>

#include "easgate/common/text.hpp"
#include "easgate/config/units.hpp"
#include "easgate/kerberos/kdc_order.hpp"
#include "easgate/kerberos/keytab_login.hpp"

namespace easgate::delegation {
namespace {

struct Explanation {
    std::string cause;          // Failure::cause
    std::string what;           // what was refused, naming the accounts
    std::string fix;            // empty when there is nothing better to say than the KDC's words
    bool user_refused = false;  // the user's account, not the infrastructure: the device gets 403
};

// The protocol's name for the code, as KDC logs and Microsoft documentation spell it.
std::string_view code_name(krb5_error_code code) {
    switch (code) {
        case KRB5KDC_ERR_BADOPTION:
            return "KDC_ERR_BADOPTION";
        case KRB5KDC_ERR_S_PRINCIPAL_UNKNOWN:
            return "KDC_ERR_S_PRINCIPAL_UNKNOWN";
        case KRB5KDC_ERR_C_PRINCIPAL_UNKNOWN:
            return "KDC_ERR_C_PRINCIPAL_UNKNOWN";
        case KRB5KDC_ERR_PRINCIPAL_NOT_UNIQUE:
            return "KDC_ERR_PRINCIPAL_NOT_UNIQUE";
        case KRB5KDC_ERR_POLICY:
            return "KDC_ERR_POLICY";
        case KRB5KDC_ERR_CLIENT_REVOKED:
            return "KDC_ERR_CLIENT_REVOKED";
        case KRB5KDC_ERR_KEY_EXP:
            return "KDC_ERR_KEY_EXPIRED";
        case KRB5KDC_ERR_NAME_EXP:
            return "KDC_ERR_NAME_EXP";
        case KRB5KDC_ERR_PREAUTH_FAILED:
            return "KDC_ERR_PREAUTH_FAILED";
        case KRB5KDC_ERR_ETYPE_NOSUPP:
            return "KDC_ERR_ETYPE_NOSUPP";
        case KRB5KRB_AP_ERR_SKEW:
            return "KRB_AP_ERR_SKEW";
        case KRB5KRB_AP_ERR_BAD_INTEGRITY:
            return "KRB_AP_ERR_BAD_INTEGRITY";
        case KRB5_KDCREP_SKEW:
            return "KRB5_KDCREP_SKEW";
        case KRB5_KDC_UNREACH:
            return "KRB5_KDC_UNREACH";
        case KRB5_REALM_CANT_RESOLVE:
            return "KRB5_REALM_CANT_RESOLVE";
        case KRB5_REALM_UNKNOWN:
            return "KRB5_REALM_UNKNOWN";
        case KRB5_KT_NOTFOUND:
            return "KRB5_KT_NOTFOUND";
        case KRB5_KT_KVNONOTFOUND:
            return "KRB5_KT_KVNONOTFOUND";
        default:
            return "";
    }
}

std::string account_of(const std::string& principal) { return principal.substr(0, principal.rfind('@')); }

std::string rekey_fix(const DelegationAttempt& a) {
    return "make the keytab for " + a.service_principal +
           " again (from a password reset, with ktutil's addent -f, as docs/admin-guide.md step 2 shows; or "
           "samba-tool domain exportkeytab --principal=" +
           account_of(a.service_principal) + ") and point kerberos.keytab at it";
}

// The PowerShell cmdlet and identity that change an account: a computer account (its name ends
// in $) by its name without the $, any other by its sAMAccountName.
std::string set_ad_account(const std::string& account) {
    if (account.ends_with('$')) return "Set-ADComputer " + account.substr(0, account.size() - 1);
    return "Set-ADUser " + account;
}

// S4U2Proxy refused with KDC_ERR_BADOPTION. AD and Samba answer the same whether the SPN is not in
// the account's list or the S4U2Self ticket is not forwardable (protocol transition off, or the
// user not delegable); that ticket's forwardable flag tells the two apart.
Explanation explain_delegation_refused(const DelegationAttempt& a) {
    const std::string account = account_of(a.service_principal);
    const std::string refused = "delegation from " + a.service_principal + " to " + a.target_spn + " for " +
                                a.user_principal + " was refused";
    const std::string add_spn =
        "add " + a.target_spn + " to the services " + account +
        " may delegate to (AD Users and Computers → " + account +
        " → Delegation → 'Trust this computer for delegation to specified services only' → "
        "Add; PowerShell: " +
        set_ad_account(account) + " -Add @{'msDS-AllowedToDelegateTo'='" + a.target_spn +
        "'}; Samba: samba-tool delegation add-service " + account + " " + a.target_spn + ")";
    const std::string any_protocol = "turn on 'Use any authentication protocol' for " + account +
                                     " (PowerShell: Set-ADAccountControl -Identity '" + account +
                                     "' -TrustedToAuthForDelegation $true; Samba: samba-tool delegation "
                                     "for-any-protocol " +
                                     account + " on)";
    const std::string not_delegable =
        a.user_principal +
        " is marked 'Account is sensitive and cannot be delegated' or is in Protected "
        "Users (easgate doctor --user tells)";
    if (a.evidence_forwardable == true) {
        return {"delegation_not_allowed",
                refused + ": " + a.target_spn + " is not among the services " + account +
                    " may delegate to (msDS-AllowedToDelegateTo); the S4U2Self ticket was forwardable, so "
                    "protocol transition is on",
                add_spn +
                    ". The SPN must be exactly upstreams[].service_principal, as registered on Exchange's "
                    "account (setspn -Q " +
                    a.target_spn + ")"};
    }
    if (a.evidence_forwardable == false && a.delegated_before) {
        return {
            "delegation_not_allowed",
            refused +
                ": the KDC made the S4U2Self ticket not forwardable for this user while it delegates "
                "others, so " +
                not_delegable,
            "clear 'Account is sensitive and cannot be delegated' on the user (AD Users and Computers → the "
            "user → Account → Account options) and take it out of Protected Users and the groups nested "
            "in it, or leave the user out of ActiveSync through easgate"};
    }
    if (a.evidence_forwardable == false) {
        return {"delegation_not_allowed",
                refused +
                    ": the KDC made the S4U2Self ticket not forwardable, so 'Use any authentication "
                    "protocol' (protocol transition, TRUSTED_TO_AUTH_FOR_DELEGATION) is off for " +
                    account + ", or " + not_delegable,
                any_protocol + ", and check that " + a.target_spn + " is in its list: " + add_spn +
                    "; if both are so already, " + not_delegable};
    }
    return {"delegation_not_allowed", refused,
            "either " + a.target_spn + " is not in msDS-AllowedToDelegateTo of " + account + " (" + add_spn +
                "), or 'use any authentication protocol' is off for " + account + " (" + any_protocol +
                "), or " + not_delegable +
                ". The KDC's log tells which: 'Constrained delegation not allowed' = SPN not in the list, "
                "'Missing forwardable flag' = protocol transition off or the user not delegable"};
}

Explanation explain_user_refusal(const DelegationAttempt& a) {
    return {"kdc_refused_user", "the KDC refuses to issue a ticket for " + a.user_principal,
            "the account is disabled, locked, expired or unknown in " + a.realm +
                " (the KDC's log has the reason); fix the account or the certificate-to-user mapping",
            true};
}

Explanation explain_not_found(KerberosStep step, const DelegationAttempt& a) {
    if (step == KerberosStep::s4u2proxy) {
        // Active Directory's KDC answers a duplicated SPN as an unknown one (its System log then has
        // KDC event 11): the remedy has to cover both.
        return {"spn_missing",
                "SPN " + a.target_spn + " is not registered in the directory of " + a.realm +
                    ", or is registered on more than one account (AD's KDC answers both alike; event 11 "
                    "in a DC's System log names a duplicate)",
                "setspn -Q " + a.target_spn +
                    " must list exactly one account, Exchange's (its computer account, or the alternate "
                    "service account behind a load-balanced name): register it there (setspn -S " +
                    a.target_spn +
                    " <that account>), remove it from any other (setspn -X lists duplicates; "
                    "setspn -D " +
                    a.target_spn +
                    " <other account>), or fix the upstream's service_principal if the host name is wrong"};
    }
    if (step == KerberosStep::s4u2self) {
        return {"service_without_spn", a.service_principal + " is not known to the KDC as a service",
                "give " + account_of(a.service_principal) + " an SPN (setspn -S host/<easgate's host name> " +
                    account_of(a.service_principal) + ")"};
    }
    return {"realm_unknown", "the KDC doesn't know realm " + a.realm,
            "check the realm of kerberos.principal (" + a.service_principal + ")"};
}

Explanation explain(KerberosStep step, const DelegationAttempt& a, krb5_error_code code) {
    const std::string account = account_of(a.service_principal);
    switch (code) {
        case KRB5KDC_ERR_BADOPTION:
            if (step != KerberosStep::s4u2proxy) break;
            return explain_delegation_refused(a);
        case KRB5KDC_ERR_S_PRINCIPAL_UNKNOWN:
            return explain_not_found(step, a);
        case KRB5KDC_ERR_PRINCIPAL_NOT_UNIQUE:
            if (step != KerberosStep::s4u2proxy) break;
            return {"spn_duplicated", "SPN " + a.target_spn + " is registered on more than one account",
                    "find the duplicates (setspn -X, or setspn -Q " + a.target_spn +
                        ") and keep it only on Exchange's account"};
        case KRB5KDC_ERR_C_PRINCIPAL_UNKNOWN:
        case KRB5KDC_ERR_CLIENT_REVOKED:
        case KRB5KDC_ERR_POLICY:
        case KRB5KDC_ERR_KEY_EXP:
        case KRB5KDC_ERR_NAME_EXP:
            if (step == KerberosStep::s4u2self) return explain_user_refusal(a);
            if (step != KerberosStep::service_login) break;
            return {"service_account_refused", "the KDC refuses easgate's own account " + a.service_principal,
                    "check that " + account + " exists in " + a.realm +
                        " and is enabled (kerberos.principal; computer accounts end in $)"};
        case KRB5KDC_ERR_PREAUTH_FAILED:
        case KRB5KRB_AP_ERR_BAD_INTEGRITY:
            if (step != KerberosStep::service_login) break;
            return {"keytab_stale",
                    "the key in kerberos.keytab doesn't match the current password of " + a.service_principal,
                    "the account's password (kvno) changed after the keytab was exported: " + rekey_fix(a)};
        case KRB5KDC_ERR_ETYPE_NOSUPP:
            return {"no_common_enctype",
                    "no encryption type is supported by both sides for " + step_description(step, a),
                    "enable AES on the accounts involved (msDS-SupportedEncryptionTypes), re-export the "
                    "keytab, and check permitted_enctypes in " +
                        a.krb5_conf};
        case KRB5_KT_NOTFOUND:
        case KRB5_KT_KVNONOTFOUND:
            return {"keytab_stale", "kerberos.keytab has no current key for " + a.service_principal,
                    rekey_fix(a)};
        case KRB5KRB_AP_ERR_SKEW:
        case KRB5_KDCREP_SKEW:
            return {"clock_skew",
                    "the clocks of easgate and the KDC of " + a.realm +
                        " differ by more than the allowed skew (5 minutes)",
                    "fix NTP on this host and on the domain controllers"};
        case KRB5_KDC_UNREACH:
        case KRB5_REALM_CANT_RESOLVE:
        case KRB5_REALM_UNKNOWN:
            return {"kdc_unreachable",
                    "no KDC of realm " + a.realm + (a.kdcs.empty() ? "" : " (" + a.kdcs + ")") +
                        " could be reached",
                    "check the kdc entries of [realms] " + a.realm + " in " + a.krb5_conf +
                        " (or DNS SRV records _kerberos._tcp when dns_lookup_kdc is on) and that TCP and "
                        "UDP port 88 to the domain controllers is open"};
        default:
            break;
    }
    return {"kdc_error", step_description(step, a) + " failed", ""};
}

}  // namespace

std::string step_description(KerberosStep step, const DelegationAttempt& a) {
    switch (step) {
        case KerberosStep::service_login:
            return "getting easgate's own ticket as " + a.service_principal;
        case KerberosStep::s4u2self:
            return "S4U2Self (protocol transition) for " + a.user_principal;
        case KerberosStep::s4u2proxy:
            return "S4U2Proxy (constrained delegation) for " + a.user_principal + " to " + a.target_spn;
    }
    return {};
}

common::Failure explain_kdc_timeout(const DelegationAttempt& a, std::string_view doing,
                                    std::chrono::milliseconds timeout) {
    const bool several = a.kdcs.find(',') != std::string::npos;
    const std::string who =
        a.kdcs.empty() ? "the KDCs of " + a.realm : (several ? "KDCs " : "KDC ") + a.kdcs + " of " + a.realm;
    return common::Failure::unavailable(
               who + " did not answer within kerberos.timeout (" + config::format_duration(timeout) +
               ") while " + std::string(doing) + ": check that the KDCs in " + a.krb5_conf +
               " are reachable from easgate on port 88 TCP and UDP and answer (krb5 waits 10 s for a "
               "KDC that accepted a TCP connection before it asks the next one; " +
               (kerberos::KdcOrderFile::installed()
                    ? "easgate checks each KDC on its own now and, while another answers, has krb5 ask a "
                      "hung one last)"
                    : "easgate could not make its KDC order file at start, see the warning then, so krb5 "
                      "asks them in krb5.conf's order: put a KDC that answers first)"))
        .because("kdc_timeout");
}

namespace {

std::string krb5_conf_in_use(const config::KerberosConfig& kerberos) {
    if (!kerberos.krb5_conf.empty()) return kerberos.krb5_conf;
    if (const auto* order = kerberos::KdcOrderFile::installed()) return order->admin_krb5_conf();
    const char* from_environment = std::getenv("KRB5_CONFIG");
    return from_environment != nullptr ? from_environment : "/etc/krb5.conf";
}

}  // namespace

DelegationAttempt service_names(const config::KerberosConfig& kerberos) {
    return {.service_principal = kerberos.principal,
            .user_principal = {},
            .target_spn = {},
            .realm = kerberos.realm(),
            .krb5_conf = krb5_conf_in_use(kerberos),
            .kdcs = common::join(kerberos::realm_kdcs(kerberos.realm())),
            .evidence_forwardable = std::nullopt};
}

common::Failure explain_kerberos_failure(KerberosStep step, const DelegationAttempt& attempt,
                                         krb5_error_code code, std::string_view krb5_message) {
    const Explanation explanation = explain(step, attempt, code);
    std::string said(krb5_message);
    if (const auto name = code_name(code); !name.empty()) said = std::string(name) + ": " + said;
    std::string detail = explanation.what + " (" + said + ")";
    if (!explanation.fix.empty()) detail += ": " + explanation.fix;
    auto failure = explanation.user_refused ? common::Failure::refused(std::move(detail))
                                            : common::Failure::unavailable(std::move(detail));
    return std::move(failure).because(explanation.cause);
}

bool is_keytab_or_account_problem(krb5_error_code code) {
    switch (code) {
        case KRB5KDC_ERR_C_PRINCIPAL_UNKNOWN:
        case KRB5KDC_ERR_CLIENT_REVOKED:
        case KRB5KDC_ERR_PREAUTH_FAILED:
        case KRB5KRB_AP_ERR_BAD_INTEGRITY:
        case KRB5KDC_ERR_ETYPE_NOSUPP:
        case KRB5_KT_NOTFOUND:
        case KRB5_KT_KVNONOTFOUND:
            return true;
        default:
            return false;
    }
}

std::string explain_keytab_problem(const std::string& keytab, const std::string& principal,
                                   krb5_error_code code, std::string_view krb5_message) {
    const std::string what = "kerberos.keytab: " + keytab + " ";
    switch (code) {
        case ENOENT:
            return what + "does not exist: export it for " + principal + " and check the path";
        case EACCES:
        case EPERM:
            return what + "is not readable by easgate's user: fix its owner or mode (root:easgate, 0640)";
        case KRB5_KT_NOTFOUND:
            return what + "holds no key for " + principal +
                   ": make the keytab for that principal (ktutil's addent -f, as docs/admin-guide.md step 2 "
                   "shows, or samba-tool domain exportkeytab --principal=" +
                   account_of(principal) + "), or fix kerberos.principal";
        default:
            return what + "can't be read: " + std::string(krb5_message);
    }
}

}  // namespace easgate::delegation
