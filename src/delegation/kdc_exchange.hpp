#pragma once

// The KDC's side of delegation, blocking, for the delegation service's KDC threads: S4U2Self then
// S4U2Proxy for a (user, SPN) with easgate's own login, and every failure explained for the
// operator with the remedy.

#include <atomic>
#include <functional>
#include <memory>
#include <string>

#include "delegated_credential.hpp"
#include "easgate/common/result.hpp"
#include "easgate/config/config.hpp"
#include "easgate/delegation/delegation_service.hpp"
#include "easgate/delegation/kerberos_errors.hpp"
#include "service_credentials.hpp"

namespace easgate::delegation {

// What one KDC exchange for a (user, SPN) came to.
struct DelegationOutcome {
    std::shared_ptr<DelegatedCredential> credential;  // null when the KDC refused
    std::string first_token;                          // from the S4U2Proxy exchange, for its starter
    common::Failure failure;                          // when the KDC refused

    static DelegationOutcome refused(common::Failure failure) { return {nullptr, {}, std::move(failure)}; }
};

class KdcExchange {
public:
    // Throws config::ConfigError as ServiceCredentials does. now: when tickets are due and end.
    KdcExchange(const config::KerberosConfig& kerberos, DelegationCounters& counters,
                std::function<Clock::time_point()> now);

    // S4U2Self, then S4U2Proxy through the first token; counted and timed. May wait for the KDC up
    // to krb5's own retries: never on an I/O thread.
    DelegationOutcome obtain(const std::string& user, const std::string& spn);

    // No answer within kerberos.timeout to getting a ticket for user to spn.
    common::Failure timed_out(const std::string& user, const std::string& spn) const;
    // A token of a cached credential that could not be made.
    common::Failure token_failed(const std::string& user, const std::string& spn,
                                 const kerberos::GssStatus& status) const;

    ServiceCredentials& service_credentials() { return service_credentials_; }
    const std::string& realm() const { return names_.realm; }

private:
    DelegationAttempt attempt(const std::string& user, const std::string& spn) const;
    common::Failure failure(KerberosStep step, const DelegationAttempt& attempted,
                            const kerberos::GssStatus& status) const;

    const config::KerberosConfig& kerberos_;
    DelegationCounters& counters_;
    const std::function<Clock::time_point()> now_;
    const DelegationAttempt names_;              // the service's; the KDC list read once
    std::atomic<bool> delegated_before_{false};  // an S4U2Proxy worked since the start
    ServiceCredentials service_credentials_;
};

}  // namespace easgate::delegation
