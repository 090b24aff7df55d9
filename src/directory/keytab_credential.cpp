#include "keytab_credential.hpp"

#include <gssapi/gssapi_ext.h>
#include <gssapi/gssapi_krb5.h>
#include <krb5.h>
#include <unistd.h>

#include <atomic>
#include <utility>

namespace easgate::directory {
namespace {

std::string unique_ccache_name() {
    static std::atomic<unsigned> next{0};
    return "MEMORY:easgate-ldap-" + std::to_string(::getpid()) + "-" + std::to_string(next++);
}

// Both halves of a GSS status (the mechanism's is the useful one: "Key table entry not found", ...).
std::string gss_message(OM_uint32 major, OM_uint32 minor) {
    std::string text;
    const auto append = [&text](OM_uint32 code, int type) {
        OM_uint32 context = 0;
        do {
            OM_uint32 ignored = 0;
            gss_buffer_desc line = GSS_C_EMPTY_BUFFER;
            if (GSS_ERROR(gss_display_status(&ignored, code, type, GSS_C_NO_OID, &context, &line))) return;
            if (!text.empty()) text += ": ";
            text.append(static_cast<const char*>(line.value), line.length);
            gss_release_buffer(&ignored, &line);
        } while (context != 0);
    };
    append(major, GSS_C_GSS_CODE);
    if (minor != 0) append(minor, GSS_C_MECH_CODE);
    return text;
}

}  // namespace

KeytabCredential::KeytabCredential(std::string keytab, std::string principal)
    : keytab_(std::move(keytab)), principal_(std::move(principal)), ccache_name_(unique_ccache_name()) {}

KeytabCredential::~KeytabCredential() {
    OM_uint32 minor = 0;
    if (credential_ != GSS_C_NO_CREDENTIAL) gss_release_cred(&minor, &credential_);
    // Releasing the credential leaves the MEMORY ccache (and its tickets) registered in the process.
    krb5_context context = nullptr;
    if (krb5_init_context(&context) != 0) return;
    krb5_ccache ccache = nullptr;
    if (krb5_cc_resolve(context, ccache_name_.c_str(), &ccache) == 0) krb5_cc_destroy(context, ccache);
    krb5_free_context(context);
}

KeytabCredential::Acquired KeytabCredential::acquire(std::chrono::steady_clock::time_point deadline) {
    std::unique_lock lock(mutex_);
    const bool ready = acquired_.wait_until(lock, deadline, [this] { return !acquiring_; });
    if (credential_ != GSS_C_NO_CREDENTIAL) return {credential_, {}};
    if (!ready) {
        return {GSS_C_NO_CREDENTIAL, "no Kerberos credentials for " + principal_ +
                                         " yet: the KDC has not answered another request for them in time; "
                                         "is the KDC reachable (krb5.conf)?"};
    }
    acquiring_ = true;
    lock.unlock();
    auto acquired = acquire_from_keytab();
    lock.lock();
    acquiring_ = false;
    credential_ = acquired.credential;
    acquired_.notify_all();
    return acquired;
}

KeytabCredential::Acquired KeytabCredential::acquire_from_keytab() {
    OM_uint32 minor = 0;
    gss_buffer_desc principal_buffer{principal_.size(), const_cast<char*>(principal_.data())};
    gss_name_t name = GSS_C_NO_NAME;
    OM_uint32 major = gss_import_name(&minor, &principal_buffer, GSS_KRB5_NT_PRINCIPAL_NAME, &name);
    if (GSS_ERROR(major))
        return {GSS_C_NO_CREDENTIAL, "bad principal " + principal_ + ": " + gss_message(major, minor)};

    gss_key_value_element_desc elements[] = {{"client_keytab", keytab_.c_str()},
                                             {"ccache", ccache_name_.c_str()}};
    const gss_key_value_set_desc store{2, elements};
    gss_OID_desc krb5_mechanism = *gss_mech_krb5;
    gss_OID_set_desc mechanisms{1, &krb5_mechanism};
    gss_cred_id_t credential = GSS_C_NO_CREDENTIAL;
    major = gss_acquire_cred_from(&minor, name, GSS_C_INDEFINITE, &mechanisms, GSS_C_INITIATE, &store,
                                  &credential, nullptr, nullptr);
    OM_uint32 ignored = 0;
    gss_release_name(&ignored, &name);
    if (GSS_ERROR(major)) {
        return {GSS_C_NO_CREDENTIAL, "can't get Kerberos credentials for " + principal_ + " from keytab " +
                                         keytab_ + ": " + gss_message(major, minor)};
    }
    return {credential, {}};
}

}  // namespace easgate::directory
