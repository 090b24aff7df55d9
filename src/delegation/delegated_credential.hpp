#pragma once

#include <memory>
#include <string>

#include "easgate/kerberos/gss_handles.hpp"
#include "service_ticket.hpp"
#include "ticket_lifetime.hpp"

namespace easgate::delegation {

// One user's impersonation credential for one target. Its MEMORY ccache (owned by MIT, destroyed
// with the credential) holds the S4U2Self ticket and, once the first token is made, the S4U2Proxy
// service ticket: later tokens need no KDC.
class DelegatedCredential {
public:
    struct Token {
        std::string negotiate;          // base64 SPNEGO token for "Authorization: Negotiate"
        OM_uint32 ticket_lifetime = 0;  // seconds left on the service ticket
        kerberos::GssStatus status;
    };

    // S4U2Self at the KDC for user_principal, with easgate's own credential. Null on failure.
    static std::shared_ptr<DelegatedCredential> impersonate(gss_cred_id_t service_credential,
                                                            const std::string& user_principal,
                                                            const std::string& target_principal,
                                                            std::chrono::milliseconds refresh_before,
                                                            kerberos::GssStatus& status);

    // A new single-leg token, bound to channel_binding (application data) unless it is empty.
    // The first call asks the KDC for the service ticket (S4U2Proxy).
    Token make_token(std::string_view channel_binding = {}) const;

    // After the first token: later tokens come from the service ticket itself, without GSSAPI (see
    // ServiceTicket). Without it (status says why) they keep coming from gss_init_sec_context.
    // Only before the credential is shared, as bound_refresh.
    kerberos::GssStatus keep_service_ticket(const std::string& target_principal);

    // Takes from the first token when to refresh (the service ticket may end before the S4U2Self
    // ticket) and how large tokens are. Only before the credential is shared: both are read
    // without a lock.
    void first_token_made(const Token& token);

    bool fresh(Clock::time_point now) const { return now < refresh_at_; }
    std::size_t token_bytes() const { return token_bytes_; }

    // Obtained because Exchange refused the one before it (DelegationService::renew). Only before
    // the credential is shared, as first_token_made.
    void replaces_refused() { replaces_refused_ = true; }
    // Whether a refusal of this credential's tokens may cost the KDC another exchange: a refused
    // credential that was itself obtained after a refusal less than `spacing` ago is kept, so an
    // Exchange that refuses every ticket does not send each of the user's requests to the KDC.
    bool worth_renewing(Clock::time_point now, Clock::duration spacing) const {
        return !replaces_refused_ || now - obtained_at_ >= spacing;
    }

private:
    DelegatedCredential(kerberos::GssCred credential, kerberos::GssName target,
                        std::chrono::milliseconds refresh_before);

    kerberos::GssCred credential_;
    kerberos::GssName target_;
    std::unique_ptr<const ServiceTicket> service_ticket_;
    std::chrono::milliseconds refresh_before_;
    Clock::time_point refresh_at_;
    Clock::time_point obtained_at_ = Clock::now();
    bool replaces_refused_ = false;
    std::size_t token_bytes_ = 0;
};

}  // namespace easgate::delegation
