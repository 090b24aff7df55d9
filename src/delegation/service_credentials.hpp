#pragma once

// easgate's own Kerberos login (its TGT), from its keytab into process memory: no kinit, nothing
// on disk.

#include <atomic>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "easgate/config/config.hpp"
#include "easgate/delegation/kerberos_errors.hpp"
#include "easgate/kerberos/gss_handles.hpp"
#include "ticket_lifetime.hpp"

namespace easgate::delegation {

class ServiceCredentials {
    struct Login;

public:
    // Checks that the keytab has a key for the principal, locally: throws config::ConfigError when
    // it hasn't. Asks no KDC: logging in is lease()'s job, on a KDC thread.
    ServiceCredentials(const config::KerberosConfig& kerberos, DelegationAttempt names);
    ~ServiceCredentials();

    // One login for the duration of one KDC exchange. Concurrent exchanges get different logins
    // (each with its own TGT), because MIT holds a credential's lock for a whole S4U2Self round trip.
    class Lease {
    public:
        Lease(ServiceCredentials& owner, std::unique_ptr<Login> login, kerberos::GssStatus status);
        ~Lease();

        gss_cred_id_t credential() const;
        const kerberos::GssStatus& status() const { return status_; }  // why there is no credential

    private:
        ServiceCredentials* owner_;
        std::unique_ptr<Login> login_;
        kerberos::GssStatus status_;
    };

    // A logged-in credential, logged in again first when its TGT is due for refresh. May wait for
    // the KDC: never on an I/O thread.
    Lease lease();

    // A failed login for the operator: what the KDC said, the key to fix ("kerberos.keytab: …") when
    // easgate's own keytab or account is wrong, and the remedy.
    std::string explain(const kerberos::GssStatus& status) const;

    // nullopt once a login has worked; until then, why not: the last failure, or the KDC's silence.
    std::optional<std::string> not_ready_reason() const;
    // No login has worked, none has failed, and the first has waited less than kerberos.timeout.
    bool logging_in() const;

private:
    kerberos::GssStatus log_in(Login& login);

    const config::KerberosConfig kerberos_;
    const DelegationAttempt names_;
    mutable std::mutex
        mutex_;  // guards idle_, first_attempt_ and last_failure_; never held across a KDC call
    std::vector<std::unique_ptr<Login>> idle_;
    std::atomic<bool> logged_in_{false};
    std::optional<Clock::time_point> first_attempt_;
    std::string last_failure_;
};

}  // namespace easgate::delegation
