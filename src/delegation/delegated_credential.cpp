#include "delegated_credential.hpp"

#include <gssapi/gssapi_ext.h>
#include <gssapi/gssapi_krb5.h>

#include "easgate/common/text.hpp"
#include "easgate/delegation/spnego.hpp"
#include "token_framing.hpp"

namespace easgate::delegation {

DelegatedCredential::DelegatedCredential(kerberos::GssCred credential, kerberos::GssName target,
                                         std::chrono::milliseconds refresh_before)
    : credential_(std::move(credential)), target_(std::move(target)), refresh_before_(refresh_before) {}

std::shared_ptr<DelegatedCredential> DelegatedCredential::impersonate(
    gss_cred_id_t service_credential, const std::string& user_principal, const std::string& target_principal,
    std::chrono::milliseconds refresh_before, Clock::time_point now, kerberos::GssStatus& status) {
    kerberos::GssName target = kerberos::import_krb5_principal(target_principal, status);
    if (status.failed()) return nullptr;
    const kerberos::GssName user = kerberos::import_principal(user_principal, status);
    if (status.failed()) return nullptr;
    // The krb5 mechanism, not SPNEGO: its minor status is the KDC's error code (see spnego.hpp).
    gss_cred_id_t credential = GSS_C_NO_CREDENTIAL;
    OM_uint32 lifetime = 0;
    status.major =
        gss_acquire_cred_impersonate_name(&status.minor, service_credential, user.get(), GSS_C_INDEFINITE,
                                          gss_mech_set_krb5, GSS_C_INITIATE, &credential, nullptr, &lifetime);
    kerberos::GssCred owned(credential);
    if (status.failed()) return nullptr;
    std::shared_ptr<DelegatedCredential> result(
        new DelegatedCredential(std::move(owned), std::move(target), refresh_before));
    result->obtained_at_ = now;
    result->refresh_at_ = refresh_due(now, lifetime, refresh_before);
    result->ends_at_ = now + std::chrono::seconds(lifetime);
    return result;
}

DelegatedCredential::Token DelegatedCredential::make_token(std::string_view channel_binding) const {
    Token token;
    if (service_ticket_) {
        Krb5Token made = service_ticket_->make_token(channel_binding);
        token.status = made.status;
        token.ticket_lifetime = made.ticket_lifetime;
        if (!token.status.failed()) {
            wrap_in_spnego(made.token);
            token.negotiate = common::base64_encode(made.token.view());
        }
        return token;
    }
    // Addresses stay unspecified: the acceptor (IIS, or MIT) builds the same structure.
    gss_channel_bindings_struct bindings{};
    bindings.initiator_addrtype = GSS_C_AF_UNSPEC;
    bindings.acceptor_addrtype = GSS_C_AF_UNSPEC;
    bindings.application_data.length = channel_binding.size();
    bindings.application_data.value = const_cast<char*>(channel_binding.data());
    gss_ctx_id_t context = GSS_C_NO_CONTEXT;
    kerberos::GssBuffer output;
    // GSS_C_MUTUAL_FLAG: IIS and MIT answer a refused ticket with a KRB-ERROR only to a client that
    // asked for mutual authentication; its code (a key Exchange lacks, a clock) is what the operator
    // needs. The answer's AP-REP is not checked: HTTP Negotiate here is one leg, and TLS authenticates
    // Exchange. No GSS_C_DELEG_FLAG: the user's TGT never leaves easgate (an impersonation credential
    // has none to give anyway).
    token.status.major = gss_init_sec_context(
        &token.status.minor, credential_.get(), &context, target_.get(), gss_mech_krb5, GSS_C_MUTUAL_FLAG,
        GSS_C_INDEFINITE, channel_binding.empty() ? GSS_C_NO_CHANNEL_BINDINGS : &bindings, GSS_C_NO_BUFFER,
        nullptr, output.get(), nullptr, &token.ticket_lifetime);
    const kerberos::GssContext owned_context(context);  // a single-use context: only its token matters
    if (token.status.failed()) return token;
    token.negotiate = common::base64_encode(wrap_in_spnego(output.view()));
    return token;
}

kerberos::GssStatus DelegatedCredential::keep_service_ticket(const std::string& target_principal) {
    kerberos::GssStatus status;
    service_ticket_ = ServiceTicket::copy_from(credential_.get(), target_principal, status);
    return status;
}

std::optional<bool> DelegatedCredential::evidence_forwardable(const std::string& service_principal) const {
    return ticket_forwardable(credential_.get(), service_principal);
}

void DelegatedCredential::first_token_made(const Token& token, Clock::time_point now) {
    refresh_at_ = std::min(refresh_at_, refresh_due(now, token.ticket_lifetime, refresh_before_));
    ends_at_ = std::min(ends_at_, now + std::chrono::seconds(token.ticket_lifetime));
    token_bytes_ = token.negotiate.size();
}

}  // namespace easgate::delegation
