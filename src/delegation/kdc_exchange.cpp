#include "kdc_exchange.hpp"

#include <spdlog/spdlog.h>

#include <utility>

namespace easgate::delegation {

KdcExchange::KdcExchange(const config::KerberosConfig& kerberos, DelegationCounters& counters,
                         std::function<Clock::time_point()> now)
    : kerberos_(kerberos),
      counters_(counters),
      now_(std::move(now)),
      names_(service_names(kerberos)),
      service_credentials_(kerberos, names_) {}

DelegationOutcome KdcExchange::obtain(const std::string& user, const std::string& spn) {
    const DelegationAttempt attempted = attempt(user, spn);
    const std::string target = spn.find('@') == std::string::npos ? spn + "@" + names_.realm : spn;
    std::shared_ptr<DelegatedCredential> credential;
    {
        const ServiceCredentials::Lease login = service_credentials_.lease();
        if (login.status().failed())
            return DelegationOutcome::refused(
                failure(KerberosStep::service_login, attempted, login.status()));
        kerberos::GssStatus status;
        const auto asked = Clock::now();
        credential = DelegatedCredential::impersonate(login.credential(), user, target,
                                                      kerberos_.ticket_refresh_before, now_(), status);
        counters_.s4u2self_seconds.observe(Clock::now() - asked);
        ++counters_.s4u2self;
        if (!credential)
            return DelegationOutcome::refused(failure(KerberosStep::s4u2self, attempted, status));
    }
    const auto asked = Clock::now();
    DelegatedCredential::Token token = credential->make_token();
    counters_.s4u2proxy_seconds.observe(Clock::now() - asked);
    ++counters_.s4u2proxy;
    if (token.status.failed()) {
        DelegationAttempt narrowed = attempted;
        if (token.status.minor == static_cast<OM_uint32>(KRB5KDC_ERR_BADOPTION)) {
            narrowed.evidence_forwardable = credential->evidence_forwardable(names_.service_principal);
            narrowed.delegated_before = delegated_before_.load(std::memory_order_relaxed);
        }
        return DelegationOutcome::refused(failure(KerberosStep::s4u2proxy, narrowed, token.status));
    }
    credential->first_token_made(token, now_());
    delegated_before_.store(true, std::memory_order_relaxed);
    if (const kerberos::GssStatus kept = credential->keep_service_ticket(target); kept.failed())
        spdlog::warn("delegation: later tokens for {} to {} go through GSSAPI: {}", user, spn,
                     kept.message());
    spdlog::info("delegation: obtained a ticket for {} to {} (valid {} s)", user, spn, token.ticket_lifetime);
    return {std::move(credential), std::move(token.negotiate), {}};
}

common::Failure KdcExchange::timed_out(const std::string& user, const std::string& spn) const {
    return explain_kdc_timeout(attempt(user, spn), "getting a ticket for " + user + " to " + spn,
                               kerberos_.timeout);
}

common::Failure KdcExchange::token_failed(const std::string& user, const std::string& spn,
                                          const kerberos::GssStatus& status) const {
    return failure(KerberosStep::s4u2proxy, attempt(user, spn), status);
}

DelegationAttempt KdcExchange::attempt(const std::string& user, const std::string& spn) const {
    DelegationAttempt result = names_;
    result.user_principal = user;
    result.target_spn = spn;
    return result;
}

common::Failure KdcExchange::failure(KerberosStep step, const DelegationAttempt& attempted,
                                     const kerberos::GssStatus& status) const {
    return explain_kerberos_failure(step, attempted, static_cast<krb5_error_code>(status.minor),
                                    status.message());
}

}  // namespace easgate::delegation
