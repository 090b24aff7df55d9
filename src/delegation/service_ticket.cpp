#include "service_ticket.hpp"

#include <gssapi/gssapi_krb5.h>

#include "easgate/delegation/spnego.hpp"

namespace easgate::delegation {
namespace {

// krb5 contexts are not thread-safe, and making one reads the profile: one per thread, for good.
struct ThreadKrb5Context {
    krb5_context context = nullptr;
    krb5_error_code error = krb5_init_context(&context);

    ThreadKrb5Context() = default;
    ThreadKrb5Context(const ThreadKrb5Context&) = delete;
    ThreadKrb5Context& operator=(const ThreadKrb5Context&) = delete;
    ~ThreadKrb5Context() {
        if (context != nullptr) krb5_free_context(context);
    }
};

const ThreadKrb5Context& thread_krb5_context() {
    thread_local const ThreadKrb5Context context;
    return context;
}

// The major status kg_new_connection gives for the krb5 error in minor.
kerberos::GssStatus krb5_failure(krb5_error_code error) {
    const OM_uint32 major = error == KRB5KRB_AP_ERR_TKT_EXPIRED ? GSS_S_CREDENTIALS_EXPIRED : GSS_S_FAILURE;
    return {major, static_cast<OM_uint32>(error)};
}

// A MEMORY ccache of our own, destroyed (not just closed) with this.
struct OwnedCcache {
    krb5_context context;
    krb5_ccache ccache = nullptr;

    explicit OwnedCcache(krb5_context owner) : context(owner) {}
    OwnedCcache(const OwnedCcache&) = delete;
    OwnedCcache& operator=(const OwnedCcache&) = delete;
    ~OwnedCcache() {
        if (ccache != nullptr) krb5_cc_destroy(context, ccache);
    }
};

// The first credential in ccache for server, a cache config entry never.
krb5_error_code find_ticket(krb5_context context, krb5_ccache ccache, krb5_const_principal server,
                            krb5_creds& found) {
    krb5_cc_cursor cursor = nullptr;
    krb5_error_code error = krb5_cc_start_seq_get(context, ccache, &cursor);
    if (error != 0) return error;
    krb5_creds creds{};
    error = KRB5_CC_NOTFOUND;
    while (krb5_cc_next_cred(context, ccache, &cursor, &creds) == 0) {
        if (!krb5_is_config_principal(context, creds.server) &&
            krb5_principal_compare(context, creds.server, server)) {
            found = creds;  // its contents are now found's
            error = 0;
            break;
        }
        krb5_free_cred_contents(context, &creds);
    }
    krb5_cc_end_seq_get(context, ccache, &cursor);
    return error;
}

}  // namespace

std::unique_ptr<ServiceTicket> ServiceTicket::copy_from(gss_cred_id_t credential,
                                                        const std::string& target_principal,
                                                        kerberos::GssStatus& status) {
    const ThreadKrb5Context& thread = thread_krb5_context();
    if (thread.error != 0) {
        status = krb5_failure(thread.error);
        return nullptr;
    }
    krb5_context context = thread.context;
    OwnedCcache copy{context};
    krb5_principal target = nullptr;
    krb5_error_code error = krb5_parse_name(context, target_principal.c_str(), &target);
    if (error == 0) error = krb5_cc_new_unique(context, "MEMORY", nullptr, &copy.ccache);
    if (error == 0) error = krb5_cc_initialize(context, copy.ccache, target);
    if (error == 0) {
        status.major = gss_krb5_copy_ccache(&status.minor, credential, copy.ccache);
        if (status.failed()) {
            krb5_free_principal(context, target);
            return nullptr;
        }
    }
    std::unique_ptr<ServiceTicket> ticket(new ServiceTicket);
    if (error == 0) error = find_ticket(context, copy.ccache, target, ticket->creds_);
    krb5_free_principal(context, target);
    if (error != 0) {
        status = krb5_failure(error);
        return nullptr;
    }
    return ticket;
}

// No context: krb5's free functions only pass it on, and this may run as a thread's context goes.
ServiceTicket::~ServiceTicket() { krb5_free_cred_contents(nullptr, &creds_); }

Krb5Token ServiceTicket::make_token(std::string_view channel_binding) const {
    Krb5Token result;
    const ThreadKrb5Context& thread = thread_krb5_context();
    if (thread.error != 0) {
        result.status = krb5_failure(thread.error);
        return result;
    }
    krb5_context context = thread.context;
    krb5_timestamp now = 0;
    krb5_error_code error = krb5_timeofday(context, &now);
    if (error == 0 && now > creds_.times.endtime) {  // as strict as MIT's get_credentials: no skew
        result.status = krb5_failure(KRB5KRB_AP_ERR_TKT_EXPIRED);
        return result;
    }
    krb5_auth_context auth_context = nullptr;
    if (error == 0) error = krb5_auth_con_init(context, &auth_context);
    krb5_data ap_req{};
    if (error == 0) {
        // As kg_new_connection: sequence numbers only (krb5_auth_con_init also sets DO_TIME), and
        // the GSS checksum in place of a keyed one.
        krb5_auth_con_setflags(context, auth_context, KRB5_AUTH_CONTEXT_DO_SEQUENCE);
        krb5_auth_con_set_req_cksumtype(context, auth_context, 0x8003);  // CKSUMTYPE_KG_CB
        std::string checksum = gss_authenticator_checksum(channel_binding);
        krb5_data checksum_data{KV5M_DATA, static_cast<unsigned int>(checksum.size()), checksum.data()};
        error = krb5_mk_req_extended(context, &auth_context, AP_OPTS_USE_SUBKEY, &checksum_data, &creds_,
                                     &ap_req);
    }
    if (auth_context != nullptr) krb5_auth_con_free(context, auth_context);
    if (error != 0) {
        result.status = krb5_failure(error);
        return result;
    }
    result.token = frame_krb5_ap_req({ap_req.data, ap_req.length});
    krb5_free_data_contents(context, &ap_req);
    result.ticket_lifetime = static_cast<OM_uint32>(creds_.times.endtime - now);
    return result;
}

}  // namespace easgate::delegation
