#pragma once

// What a KDC refusal means for the device (403 or 503) and for the operator (what happened, the fix).
// MIT krb5 reports the same code for different causes at different steps, so the step is part of
// the question.

#include <krb5/krb5.h>

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "easgate/common/result.hpp"
#include "easgate/config/config.hpp"

namespace easgate::delegation {

enum class KerberosStep {
    service_login,  // easgate's own TGT from its keytab (AS exchange)
    s4u2self,       // a ticket for the user to easgate (protocol transition)
    s4u2proxy,      // a ticket for the user to the target SPN (constrained delegation)
};

// The names involved, so the message can say exactly which account or SPN to fix.
struct DelegationAttempt {
    std::string service_principal;  // EASGATE$@EXAMPLE.TEST
    std::string user_principal;     // alice@EXAMPLE.TEST
    std::string target_spn;         // HTTP/mail.example.test
    std::string realm;
    std::string krb5_conf;  // where the realm's KDCs are configured
    std::string kdcs;       // the realm's kdc entries there ("dc1:88, dc2:88"); empty: found by DNS
    // S4U2Proxy refused (KDC_ERR_BADOPTION): whether the S4U2Self ticket was forwardable, which
    // tells the causes apart; nullopt when not known.
    std::optional<bool> evidence_forwardable;
    // Delegation worked for some user since the start: easgate's account is set up, and a ticket
    // not forwardable is the user's (sensitive, or in Protected Users).
    bool delegated_before = false;
};

// easgate's own names (principal, realm, the krb5.conf in use and its KDCs), no user or SPN yet.
DelegationAttempt service_names(const config::KerberosConfig& kerberos);

// The device is told 403 when the KDC refuses the user, 503 otherwise; Failure::cause names the
// case for metrics ("clock_skew", "spn_missing", "delegation_not_allowed", ...).
// code: the krb5 error (the krb5 mechanism's GSS minor status); krb5_message: krb5's wording of it.
common::Failure explain_kerberos_failure(KerberosStep step, const DelegationAttempt& attempt,
                                         krb5_error_code code, std::string_view krb5_message);

// No KDC answered within kerberos.timeout while easgate was `doing` something (a step_description).
common::Failure explain_kdc_timeout(const DelegationAttempt& attempt, std::string_view doing,
                                    std::chrono::milliseconds timeout);

// What easgate was asking the KDC for, naming the accounts ("S4U2Self (protocol transition) for …").
std::string step_description(KerberosStep step, const DelegationAttempt& attempt);

// True when easgate's own keytab or account is wrong, rather than the KDC being away: a reason to
// refuse to start instead of failing every request.
bool is_keytab_or_account_problem(krb5_error_code code);

// The keytab can't serve the principal (read locally, before any KDC is asked): what to fix.
std::string explain_keytab_problem(const std::string& keytab, const std::string& principal,
                                   krb5_error_code code, std::string_view krb5_message);

}  // namespace easgate::delegation
