#pragma once

// easgate's own Kerberos login (its TGT), from its keytab into process memory: no kinit, nothing
// on disk.

#include <memory>
#include <mutex>
#include <vector>

#include "easgate/config/config.hpp"
#include "easgate/delegation/kerberos_errors.hpp"
#include "gss_handles.hpp"
#include "ticket_lifetime.hpp"

namespace easgate::delegation {

class ServiceCredentials {
    struct Login;

public:
    // Checks that the keytab has a key for the principal and logs in once. Throws config::ConfigError
    // when the keytab or the account is wrong; a KDC that can't be reached only logs a warning (the
    // next exchange retries).
    ServiceCredentials(const config::KerberosConfig& kerberos, DelegationAttempt names);
    ~ServiceCredentials();

    // One login for the duration of one KDC exchange. Concurrent exchanges get different logins
    // (each with its own TGT), because MIT holds a credential's lock for a whole S4U2Self round trip.
    class Lease {
    public:
        Lease(ServiceCredentials& owner, std::unique_ptr<Login> login, GssStatus status);
        ~Lease();

        gss_cred_id_t credential() const;
        const GssStatus& status() const { return status_; }  // why there is no credential

    private:
        ServiceCredentials* owner_;
        std::unique_ptr<Login> login_;
        GssStatus status_;
    };

    // A logged-in credential, logged in again first when its TGT is due for refresh.
    Lease lease();

private:
    GssStatus log_in(Login& login) const;

    const config::KerberosConfig kerberos_;
    const DelegationAttempt names_;
    std::mutex mutex_;
    std::vector<std::unique_ptr<Login>> idle_;
};

}  // namespace easgate::delegation
