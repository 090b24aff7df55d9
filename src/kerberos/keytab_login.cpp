#include "easgate/kerberos/keytab_login.hpp"

#include <gssapi/gssapi_ext.h>
#include <gssapi/gssapi_krb5.h>

#include <cstdlib>
#include <ctime>

namespace easgate::kerberos {

std::string Krb5Context::message(krb5_error_code code) const {
    const char* text = krb5_get_error_message(context_, code);
    std::string result = text;
    krb5_free_error_message(context_, text);
    return result;
}

namespace {

// The KDC's clock against ours: the authtime of the TGT just stored in ccache, the KDC's time when
// it answered, read now.
std::optional<long> kdc_clock_ahead(const MemoryCcache& ccache) {
    const Krb5Context context;
    krb5_ccache cache = nullptr;
    krb5_cc_cursor cursor = nullptr;
    if (context.get() == nullptr || krb5_cc_resolve(context.get(), ccache.name().c_str(), &cache) != 0)
        return std::nullopt;
    std::optional<long> ahead;
    if (krb5_cc_start_seq_get(context.get(), cache, &cursor) == 0) {
        krb5_creds creds;
        while (!ahead && krb5_cc_next_cred(context.get(), cache, &cursor, &creds) == 0) {
            if (!krb5_is_config_principal(context.get(), creds.server) && creds.times.authtime != 0)
                ahead = static_cast<long>(creds.times.authtime) - static_cast<long>(std::time(nullptr));
            krb5_free_cred_contents(context.get(), &creds);
        }
        krb5_cc_end_seq_get(context.get(), cache, &cursor);
    }
    krb5_cc_close(context.get(), cache);
    return ahead;
}

}  // namespace

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
    if (!login.status.failed()) login.kdc_clock_ahead = kdc_clock_ahead(ccache);
    return login;
}

std::string clock_against_kdc(long kdc_ahead) {
    if (kdc_ahead == 0) return "this host's clock agrees with the KDC's";
    return "this host's clock is " + std::to_string(std::labs(kdc_ahead)) + " s " +
           (kdc_ahead > 0 ? "behind" : "ahead of") + " the KDC's";
}

}  // namespace easgate::kerberos
