#pragma once

#include <gssapi/gssapi.h>

#include <mutex>
#include <string>

namespace easgate::directory {

// easgate's own Kerberos initiator credential for the LDAP GSSAPI bind, from its keytab, held in a
// private in-memory ccache: no kinit, no password, nothing on disk, and no other code in the process
// (the delegation stage included) sees or replaces it. MIT krb5 renews the TGT from the keytab when
// it nears expiry. Thread-safe; shared by every connection of one DirectoryClient.
class KeytabCredential {
public:
    KeytabCredential(std::string keytab, std::string principal);
    ~KeytabCredential();
    KeytabCredential(const KeytabCredential&) = delete;
    KeytabCredential& operator=(const KeytabCredential&) = delete;

    struct Acquired {
        gss_cred_id_t credential = GSS_C_NO_CREDENTIAL;  // owned by this object; valid until it is destroyed
        std::string error;                               // set when credential is GSS_C_NO_CREDENTIAL
    };

    // Acquired on first use rather than at construction, so a KDC that is down at start-up delays
    // lookups instead of failing the process; retried on every call until it succeeds.
    Acquired acquire();

private:
    const std::string keytab_;
    const std::string principal_;
    const std::string ccache_name_;
    std::mutex mutex_;
    gss_cred_id_t credential_ = GSS_C_NO_CREDENTIAL;
};

}  // namespace easgate::directory
