#include "easgate/kerberos/keytab_login.hpp"

#include <gssapi/gssapi_ext.h>
#include <gssapi/gssapi_krb5.h>

namespace easgate::kerberos {

std::string Krb5Context::message(krb5_error_code code) const {
    const char* text = krb5_get_error_message(context_, code);
    std::string result = text;
    krb5_free_error_message(context_, text);
    return result;
}

MemoryCcache::~MemoryCcache() {
    const Krb5Context context;
    krb5_ccache ccache = nullptr;
    if (context.get() != nullptr && krb5_cc_resolve(context.get(), name_.c_str(), &ccache) == 0)
        krb5_cc_destroy(context.get(), ccache);
}

KeytabLogin log_in_from_keytab(const std::string& keytab, const std::string& principal,
                               const MemoryCcache& ccache) {
    KeytabLogin login;
    const GssName name = import_principal(principal, login.status);
    if (login.status.failed()) return login;
    // client_keytab makes MIT get the TGT itself (AS exchange) into the given ccache.
    gss_key_value_element_desc elements[] = {{"client_keytab", keytab.c_str()},
                                             {"ccache", ccache.name().c_str()}};
    const gss_key_value_set_desc store{2, elements};
    gss_cred_id_t credential = GSS_C_NO_CREDENTIAL;
    login.status.major =
        gss_acquire_cred_from(&login.status.minor, name.get(), GSS_C_INDEFINITE, gss_mech_set_krb5,
                              GSS_C_INITIATE, &store, &credential, nullptr, &login.lifetime);
    login.credential.reset(credential);
    return login;
}

}  // namespace easgate::kerberos
