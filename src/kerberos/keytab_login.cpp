#include "easgate/kerberos/keytab_login.hpp"

#include <gssapi/gssapi_ext.h>
#include <gssapi/gssapi_krb5.h>

#include <cstdint>
#include <cstdlib>
#include <ctime>
#include <string_view>

namespace easgate::kerberos {

std::string Krb5Context::message(krb5_error_code code) const {
    const char* text = krb5_get_error_message(context_, code);
    std::string result = text;
    krb5_free_error_message(context_, text);
    return result;
}

namespace {

bool is_tgt(krb5_const_principal server) {
    return server->length == 2 && std::string_view(server->data[0].data, server->data[0].length) == "krbtgt";
}

// The authtime of the TGT in ccache (the KDC's clock when it issued it), if it holds one.
std::optional<krb5_timestamp> tgt_authtime(const MemoryCcache& ccache) {
    const Krb5Context context;
    krb5_ccache cache = nullptr;
    krb5_cc_cursor cursor = nullptr;
    if (context.get() == nullptr || krb5_cc_resolve(context.get(), ccache.name().c_str(), &cache) != 0)
        return std::nullopt;
    std::optional<krb5_timestamp> authtime;
    if (krb5_cc_start_seq_get(context.get(), cache, &cursor) == 0) {
        krb5_creds creds;
        while (!authtime && krb5_cc_next_cred(context.get(), cache, &cursor, &creds) == 0) {
            if (!krb5_is_config_principal(context.get(), creds.server) && is_tgt(creds.server))
                authtime = creds.times.authtime;
            krb5_free_cred_contents(context.get(), &creds);
        }
        krb5_cc_end_seq_get(context.get(), cache, &cursor);
    }
    krb5_cc_close(context.get(), cache);
    return authtime;
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
    const bool had_tgt = tgt_authtime(ccache).has_value();
    // client_keytab makes MIT get the TGT itself (AS exchange) into the given ccache.
    gss_key_value_element_desc elements[] = {{"client_keytab", keytab.c_str()},
                                             {"ccache", ccache.name().c_str()}};
    const gss_key_value_set_desc store{2, elements};
    gss_cred_id_t credential = GSS_C_NO_CREDENTIAL;
    login.status.major =
        gss_acquire_cred_from(&login.status.minor, name.get(), GSS_C_INDEFINITE, gss_mech_set_krb5,
                              GSS_C_INITIATE, &store, &credential, nullptr, &login.lifetime);
    login.credential.reset(credential);
    // Only a TGT this login obtained tells the KDC's clock now: one the ccache held is hours old.
    // std::time, not krb5_timeofday: the ccache may carry MIT's kdc_timesync offset into a context.
    if (!login.status.failed() && !had_tgt) {
        if (const auto authtime = tgt_authtime(ccache))
            login.kdc_clock_ahead = static_cast<long>(static_cast<std::uint32_t>(*authtime)) -
                                    static_cast<long>(std::time(nullptr));  // unsigned: past 2038 too
    }
    return login;
}

std::string clock_against_kdc(long kdc_ahead) {
    if (kdc_ahead == 0) return "this host's clock agrees with the KDC's";
    return "this host's clock is " + std::to_string(std::labs(kdc_ahead)) + " s " +
           (kdc_ahead > 0 ? "behind" : "ahead of") + " the KDC's";
}

KdcClock kdc_clock_verdict(long kdc_ahead) {
    if (std::labs(kdc_ahead) > kerberos_tolerance_seconds) return KdcClock::refused;
    return std::labs(kdc_ahead) > clock_drift_seconds ? KdcClock::drifting : KdcClock::agrees;
}

const char* const kdc_clock_remedy =
    "synchronise this host's clock with the domain: chrony or systemd-timesyncd with the domain "
    "controllers (which follow the PDC emulator) as servers; in a container, the host's clock";

}  // namespace easgate::kerberos
