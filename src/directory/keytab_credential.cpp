#include "keytab_credential.hpp"

#include <utility>

namespace easgate::directory {

KeytabCredential::KeytabCredential(std::string keytab, std::string principal, LoginExplainer explain)
    : keytab_(std::move(keytab)), principal_(std::move(principal)), explain_(std::move(explain)) {}

KeytabCredential::Acquired KeytabCredential::acquire(std::chrono::steady_clock::time_point deadline) {
    std::unique_lock lock(mutex_);
    const bool ready = acquired_.wait_until(lock, deadline, [this] { return !acquiring_; });
    if (credential_) return {credential_.get(), {}};
    if (!ready) {
        return {GSS_C_NO_CREDENTIAL, "no Kerberos credentials for " + principal_ +
                                         " yet: the KDC has not answered another request for them in time; "
                                         "is the KDC reachable (krb5.conf)?"};
    }
    acquiring_ = true;
    lock.unlock();
    auto login = kerberos::log_in_from_keytab(keytab_, principal_, ccache_);
    lock.lock();
    acquiring_ = false;
    credential_ = std::move(login.credential);
    acquired_.notify_all();
    if (login.status.failed()) {
        if (explain_) {
            auto failure = explain_(static_cast<std::int32_t>(login.status.minor), login.status.message());
            return {GSS_C_NO_CREDENTIAL, std::move(failure.reason), std::move(failure.cause)};
        }
        return {GSS_C_NO_CREDENTIAL, "can't get Kerberos credentials for " + principal_ + " from keytab " +
                                         keytab_ + ": " + login.status.message()};
    }
    return {credential_.get(), {}};
}

}  // namespace easgate::directory
