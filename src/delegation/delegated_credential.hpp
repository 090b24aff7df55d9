#pragma once

#include <atomic>
#include <memory>
#include <optional>
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
                                                            Clock::time_point now,
                                                            kerberos::GssStatus& status);

    // A new single-leg token, bound to channel_binding (application data) unless it is empty.
    // The first call asks the KDC for the service ticket (S4U2Proxy).
    Token make_token(std::string_view channel_binding = {}) const;

    // After the first token: later tokens come from the service ticket itself, without GSSAPI (see
    // ServiceTicket). Without it (status says why) they keep coming from gss_init_sec_context.
    // Only before the credential is shared, as bound_refresh.
    kerberos::GssStatus keep_service_ticket(const std::string& target_principal);

    // Whether the S4U2Self ticket (to easgate's own service_principal) is forwardable, which
    // S4U2Proxy needs; nullopt when it can't be told.
    std::optional<bool> evidence_forwardable(const std::string& service_principal) const;

    // Takes from the first token when to refresh (the service ticket may end before the S4U2Self
    // ticket) and how large tokens are. Only before the credential is shared: both are read
    // without a lock.
    void first_token_made(const Token& token, Clock::time_point now);

    bool fresh(Clock::time_point now) const { return now < refresh_at_; }
    // Still good for a token after its refresh is due: its tickets end later than a token takes to
    // reach Exchange.
    bool usable(Clock::time_point now) const { return now + usable_margin < ends_at_; }
    // Its refresh failed (the KDC is away): not asked for again before `until`, while it is usable.
    // With DelegationService's lock held, once the credential is shared.
    void postpone_refresh(Clock::time_point until) {
        refresh_at_ = std::min(until, ends_at_ - usable_margin);
    }
    std::size_t token_bytes() const { return token_bytes_; }

    // Exchange accepted a token of it: a refusal later means Exchange changed (its key), not that
    // the ticket never suited it (Windows Authentication off, a wrong SPN), which a new one would
    // not mend either.
    void accepted() const {
        if (!accepted_.load(std::memory_order_relaxed)) accepted_.store(true, std::memory_order_relaxed);
    }
    // Obtained because Exchange refused the one before it (DelegationService::renew). Only before
    // the credential is shared, as first_token_made.
    void replaces_refused() { replaces_refused_ = true; }
    // Whether a refusal of its tokens may cost the KDC another exchange: only once Exchange accepted
    // it, and not sooner than `spacing` after the refusal it replaced, so an Exchange that refuses
    // every other request (one server of several with an old key) costs the KDC one exchange per
    // user and `spacing`, not two per request.
    bool worth_renewing(Clock::time_point now, Clock::duration spacing) const {
        return accepted_.load(std::memory_order_relaxed) &&
               (!replaces_refused_ || now - obtained_at_ >= spacing);
    }

private:
    DelegatedCredential(kerberos::GssCred credential, kerberos::GssName target,
                        std::chrono::milliseconds refresh_before);

    kerberos::GssCred credential_;
    kerberos::GssName target_;
    std::unique_ptr<const ServiceTicket> service_ticket_;
    std::chrono::milliseconds refresh_before_;
    static constexpr std::chrono::seconds usable_margin{10};

    Clock::time_point refresh_at_;
    Clock::time_point ends_at_;  // of the S4U2Self ticket, then of the service ticket if sooner
    Clock::time_point obtained_at_;
    bool replaces_refused_ = false;
    mutable std::atomic<bool> accepted_{false};
    std::size_t token_bytes_ = 0;
};

}  // namespace easgate::delegation
