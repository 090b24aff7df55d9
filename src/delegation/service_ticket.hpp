#pragma once

#include <gssapi/gssapi.h>
#include <krb5/krb5.h>

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "authenticator_cipher.hpp"
#include "der.hpp"
#include "easgate/kerberos/gss_handles.hpp"

namespace easgate::delegation {

// A Kerberos initial context token in the making: the GSS token, or why not.
struct Krb5Token {
    der::BackwardWriter token{0};   // the framed AP-REQ, room in front for SPNEGO; empty if failed
    OM_uint32 ticket_lifetime = 0;  // seconds left on the service ticket
    kerberos::GssStatus status;     // minor: the krb5 error code, as MIT's mechanism reports it
};

// An S4U2Proxy service ticket taken out of an impersonation credential once it holds one, so that
// each token is an authenticator encoded here and encrypted with a session key kept for the
// ticket's life, on the calling thread's own long-lived krb5 context: gss_init_sec_context creates
// a krb5 context (re-reading the profile) and searches the ccache on every call, and
// krb5_mk_req_extended derives the session key's encryption keys again each time (AuthenticatorCipher). The
// token is what MIT's initiator makes for GSS_C_MUTUAL_FLAG (make_ap_req_v1): a subkey, a sequence
// number, the 0x8003 checksum, mutual-required (for the acceptor's KRB-ERROR), no delegation.
class ServiceTicket {
public:
    // The ticket to target_principal in credential's ccache; null (and why in status) without one.
    static std::unique_ptr<ServiceTicket> copy_from(gss_cred_id_t credential,
                                                    const std::string& target_principal,
                                                    kerberos::GssStatus& status);

    // Takes over creds' contents (creds is left empty); null, and why in error, if its session key
    // can't be used.
    static std::unique_ptr<ServiceTicket> adopt(krb5_creds& creds, krb5_error_code& error);

    ServiceTicket(const ServiceTicket&) = delete;
    ServiceTicket& operator=(const ServiceTicket&) = delete;
    ~ServiceTicket();

    // Safe on several threads at once: the ticket is only read.
    Krb5Token make_token(std::string_view channel_binding) const;

private:
    ServiceTicket() = default;

    krb5_creds creds_{};
    std::unique_ptr<AuthenticatorCipher> cipher_;  // for the session key, made once
};

// Whether the ticket to server_principal in credential's ccache is forwardable; nullopt without one.
// S4U2Proxy needs the S4U2Self ticket (to easgate's own principal) forwardable: the KDC issues it so
// only to an account trusted to authenticate for delegation, for a user who may be delegated.
std::optional<bool> ticket_forwardable(gss_cred_id_t credential, const std::string& server_principal);

}  // namespace easgate::delegation
