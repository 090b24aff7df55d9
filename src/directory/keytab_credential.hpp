#pragma once

#include <gssapi/gssapi.h>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>

#include "easgate/directory/directory_client.hpp"
#include "easgate/kerberos/keytab_login.hpp"

namespace easgate::directory {

// easgate's own Kerberos initiator credential for the LDAP GSSAPI bind, from its keytab, held in a
// private in-memory ccache: no other code in the process (the delegation stage included) sees or
// replaces it. MIT krb5 renews the TGT from the keytab when it nears expiry. Thread-safe; shared by
// every connection of one DirectoryClient.
class KeytabCredential {
public:
    KeytabCredential(std::string keytab, std::string principal, LoginExplainer explain = {});
    KeytabCredential(const KeytabCredential&) = delete;
    KeytabCredential& operator=(const KeytabCredential&) = delete;

    struct Acquired {
        gss_cred_id_t credential = GSS_C_NO_CREDENTIAL;  // owned by this object; valid until it is destroyed
        std::string error;                               // set when credential is GSS_C_NO_CREDENTIAL
        std::string cause = "unavailable";               // for /metrics, with error
    };

    // Acquired on first use rather than at construction, so a KDC that is down at start-up delays
    // lookups instead of failing the process; retried on every call until it succeeds. One caller
    // at a time asks the KDC, with no lock held; the others wait for its answer until `deadline`.
    // The KDC exchange itself is bounded by krb5's own limits (kdc_timeout, max_retries).
    Acquired acquire(std::chrono::steady_clock::time_point deadline);

private:
    const std::string keytab_;
    const std::string principal_;
    const LoginExplainer explain_;
    const kerberos::MemoryCcache ccache_;
    std::mutex mutex_;  // guards credential_ and acquiring_, never held across a KDC exchange
    std::condition_variable acquired_;
    bool acquiring_ = false;
    kerberos::GssCred credential_;  // declared after ccache_: released before the ccache is destroyed
};

}  // namespace easgate::directory
