#include "service_ticket.hpp"

#include <gssapi/gssapi_krb5.h>
#include <openssl/crypto.h>

#include <array>
#include <cstring>
#include <span>

#include "ap_request.hpp"
#include "easgate/delegation/spnego.hpp"
#include "token_framing.hpp"
#include "token_random.hpp"

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

// A token's subkey and initial sequence number, as krb5_mk_req_extended makes them (MIT's generator
// asks the kernel for each).
struct FreshKeys {
    std::array<unsigned char, 64> key_bytes{};
    krb5_keyblock subkey{KV5M_KEYBLOCK, 0, 0, key_bytes.data()};
    krb5_ui_4 sequence_number = 0;

    FreshKeys() = default;
    FreshKeys(const FreshKeys&) = delete;
    FreshKeys& operator=(const FreshKeys&) = delete;
    ~FreshKeys() { OPENSSL_cleanse(key_bytes.data(), key_bytes.size()); }

    krb5_error_code make(krb5_context context, krb5_enctype enctype) {
        std::size_t random_length = 0, key_length = 0;
        krb5_error_code error = krb5_c_keylengths(context, enctype, &random_length, &key_length);
        std::array<unsigned char, 64 + sizeof sequence_number> random{};
        if (error == 0 && (random_length > key_bytes.size() || key_length > key_bytes.size()))
            error = KRB5_BAD_KEYSIZE;
        if (error == 0 && !token_random(std::span(random).first(random_length + sizeof sequence_number)))
            error = KRB5_CRYPTO_INTERNAL;
        if (error == 0) {
            subkey.enctype = enctype;
            subkey.length = static_cast<unsigned int>(key_length);
            krb5_data subkey_random{KV5M_DATA, static_cast<unsigned int>(random_length),
                                    reinterpret_cast<char*>(random.data())};
            error = krb5_c_random_to_key(context, enctype, &subkey_random, &subkey);
            std::memcpy(&sequence_number, random.data() + random_length, sizeof sequence_number);
            sequence_number &= 0x3fffffffu;  // as MIT: older peers read sequence numbers as signed
        }
        OPENSSL_cleanse(random.data(), random.size());
        return error;
    }
};

}  // namespace

namespace {

// The ticket to server_principal in credential's ccache, copied out into found; why not in status.
bool copy_ticket(gss_cred_id_t credential, const std::string& server_principal, krb5_creds& found,
                 kerberos::GssStatus& status) {
    const ThreadKrb5Context& thread = thread_krb5_context();
    if (thread.error != 0) {
        status = krb5_failure(thread.error);
        return false;
    }
    krb5_context context = thread.context;
    OwnedCcache copy{context};
    krb5_principal server = nullptr;
    krb5_error_code error = krb5_parse_name(context, server_principal.c_str(), &server);
    if (error == 0) error = krb5_cc_new_unique(context, "MEMORY", nullptr, &copy.ccache);
    if (error == 0) error = krb5_cc_initialize(context, copy.ccache, server);
    if (error == 0) {
        status.major = gss_krb5_copy_ccache(&status.minor, credential, copy.ccache);
        if (status.failed()) {
            krb5_free_principal(context, server);
            return false;
        }
    }
    if (error == 0) error = find_ticket(context, copy.ccache, server, found);
    krb5_free_principal(context, server);
    if (error != 0) status = krb5_failure(error);
    return error == 0;
}

}  // namespace

std::unique_ptr<ServiceTicket> ServiceTicket::copy_from(gss_cred_id_t credential,
                                                        const std::string& target_principal,
                                                        kerberos::GssStatus& status) {
    krb5_creds found{};
    if (!copy_ticket(credential, target_principal, found, status)) return nullptr;
    krb5_error_code error = 0;
    std::unique_ptr<ServiceTicket> ticket = adopt(found, error);
    if (error != 0) status = krb5_failure(error);
    return ticket;
}

std::optional<bool> ticket_forwardable(gss_cred_id_t credential, const std::string& server_principal) {
    krb5_creds found{};
    kerberos::GssStatus status;
    if (!copy_ticket(credential, server_principal, found, status)) return std::nullopt;
    const bool forwardable = (found.ticket_flags & TKT_FLG_FORWARDABLE) != 0;
    krb5_free_cred_contents(nullptr, &found);
    return forwardable;
}

std::unique_ptr<ServiceTicket> ServiceTicket::adopt(krb5_creds& creds, krb5_error_code& error) {
    std::unique_ptr<ServiceTicket> ticket(new ServiceTicket);
    ticket->creds_ = creds;  // its contents are now the ticket's
    creds = {};
    const ThreadKrb5Context& thread = thread_krb5_context();
    error = thread.error;
    if (error == 0)
        ticket->cipher_ = AuthenticatorCipher::make(thread.context, ticket->creds_.keyblock, error);
    if (error != 0) return nullptr;
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
    krb5_int32 now_usec = 0;
    krb5_error_code error = krb5_us_timeofday(context, &now, &now_usec);
    if (error == 0 && now > creds_.times.endtime) error = KRB5KRB_AP_ERR_TKT_EXPIRED;  // as strict as MIT's
    FreshKeys fresh;
    if (error == 0) error = fresh.make(context, creds_.keyblock.enctype);
    std::string encrypted;
    if (error == 0) {
        const std::string checksum = gss_authenticator_checksum(channel_binding);
        std::string authenticator = encode_authenticator(
            {creds_.client, checksum, now, now_usec, fresh.subkey, fresh.sequence_number});
        error = cipher_->encrypt(context, authenticator, encrypted);
        OPENSSL_cleanse(authenticator.data(), authenticator.size());
    }
    if (error != 0) {
        result.status = krb5_failure(error);
        return result;
    }
    // Room for the AP-REQ's and SPNEGO's headers and the authenticator in front of the ticket.
    result.token = der::BackwardWriter(creds_.ticket.length + encrypted.size() + 128);
    encode_ap_req(result.token, {creds_.ticket.data, creds_.ticket.length}, creds_.keyblock.enctype,
                  encrypted);
    frame_krb5_ap_req(result.token);
    result.ticket_lifetime = static_cast<OM_uint32>(creds_.times.endtime - now);
    return result;
}

}  // namespace easgate::delegation
