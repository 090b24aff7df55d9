#pragma once

#include <atomic>
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "easgate/common/histogram.hpp"
#include "easgate/common/result.hpp"
#include "easgate/config/config.hpp"

namespace easgate::delegation {

// A Negotiate token (base64, for "Authorization: Negotiate <token>"), or why not: 403 when the KDC
// refuses the user (disabled, not delegable, unknown), 503 when the infrastructure fails (KDC
// unreachable, clock skew, SPN missing, delegation not allowed); the reason says what the KDC said,
// what it means and the fix.
using DelegationResult = common::Result<std::string>;

class DelegatedCredential;

// One user's delegation to one SPN, cached or just obtained from the KDC: DelegationService::token
// makes its tokens without a KDC. A request holds it from the delegation stage to Exchange, so the
// token is made only when one is sent, and bound to the upstream connection that carries it.
class UserDelegation {
public:
    // The size of "Negotiate <token>" with this service ticket; each token may differ from it by a
    // few bytes (the authenticator's timestamp and sequence number).
    std::size_t authorization_bytes() const { return authorization_bytes_; }
    // Exchange accepted a token of this delegation (answered other than 401).
    void accepted() const;

private:
    friend class DelegationService;
    UserDelegation(std::shared_ptr<const DelegatedCredential> credential, std::string user_principal,
                   std::string account, std::string target_spn, std::string unbound_token);

    std::shared_ptr<const DelegatedCredential> credential_;
    std::string user_principal_;
    std::string account_;
    std::string target_spn_;
    std::string unbound_token_;  // made by the KDC exchange itself: the first unbound token
    std::size_t authorization_bytes_ = 0;
};

// Counted by the service itself, so tests and /metrics can see how often the KDC was asked.
struct DelegationCounters {
    std::atomic<std::uint64_t> s4u2self{0};    // impersonation credentials acquired from the KDC
    std::atomic<std::uint64_t> s4u2proxy{0};   // service tickets obtained for a (user, SPN)
    std::atomic<std::uint64_t> cache_hits{0};  // delegations served from a cached credential
    std::atomic<std::uint64_t> tokens{0};      // Negotiate tokens made, besides each S4U2Proxy's own
    std::atomic<std::uint64_t> renewals{0};  // tickets dropped and obtained again after Exchange refused them
    std::atomic<std::uint64_t> failures{0};
    std::atomic<std::uint64_t> queue_full{0};  // answered unavailable at once: max_queued_kdc were waiting
    std::atomic<std::uint64_t> kdcs_asked_last{0};  // KDCs found hung, asked last now (kerberos::KdcWatch)
    // How long the KDC took over the exchanges actually sent to it (cache hits send none).
    common::Histogram s4u2self_seconds{common::backend_seconds_buckets};
    common::Histogram s4u2proxy_seconds{common::backend_seconds_buckets};
};

// Kerberos constrained delegation with protocol transition (MIT krb5 GSSAPI): easgate's own
// credentials from its keytab (in memory, no kinit, nothing on disk), S4U2Self for the user,
// S4U2Proxy to the target SPN, a fresh Negotiate token per call. Credentials are cached per
// (user, SPN), refreshed ticket_refresh_before expiry; concurrent calls for one (user, SPN) share
// one KDC exchange; KDC work runs on the service's own threads (max_concurrent_kdc), so a silent
// KDC never delays anything else. A token from a cached credential needs no KDC and is made on the
// caller's thread. No call waits longer than kerberos.timeout: a krb5 call still stuck then goes
// on in its thread, and its ticket is cached.
class DelegationService {
public:
    // Throws config::ConfigError when the keytab can't be read or holds no key for the principal.
    // Asks no KDC. clock: what tells when tickets are due for refresh and end (tests move it on
    // rather than wait hours).
    explicit DelegationService(
        const config::KerberosConfig& kerberos,
        std::function<std::chrono::steady_clock::time_point()> clock = std::chrono::steady_clock::now);
    ~DelegationService();
    DelegationService(const DelegationService&) = delete;
    DelegationService& operator=(const DelegationService&) = delete;

    // user_principal: the canonical name to impersonate, e.g. "alice@EXAMPLE.TEST";
    // target_spn: "HTTP/mail.example.test"; channel_binding: the application data of the
    // channel bindings ("tls-server-end-point:<hash>"), empty for none. Completes on the awaiting
    // coroutine's executor. Cancellable through the coroutine's cancellation slot (e.g. under
    // awaitable_operators' || with a timer): it then completes at once as a 503
    // ("cancelled: ..."), not counted in failures; the KDC exchange goes on and its ticket is cached.
    // from_cache, when given, is set to whether the token came from a cached ticket (access log).
    boost::asio::awaitable<DelegationResult> negotiate_token(std::string user_principal,
                                                             std::string target_spn,
                                                             std::string channel_binding = {},
                                                             bool* from_cache = nullptr);

    // negotiate_token in two steps: the credential now (from the cache, or the KDC as above), its
    // tokens later (token() below). Fails as negotiate_token does. account: the account the name
    // stands for now (its objectSid), when known. Tickets are kept per account: a name passes to
    // another account when its holder leaves (renamed, a new hire given the name), and the
    // newcomer must not get the tickets cached for the leaver.
    boost::asio::awaitable<common::Result<UserDelegation>> delegate(std::string user_principal,
                                                                    std::string target_spn,
                                                                    bool* from_cache = nullptr,
                                                                    std::string account = {});

    // delegate's answer when the credential is cached (counted as a cache hit); nullopt when the
    // KDC must be asked.
    std::optional<UserDelegation> delegate_now(const std::string& user_principal,
                                               const std::string& target_spn,
                                               const std::string& account = {});

    // Exchange refused a token of delegation (401): its service ticket may be one Exchange no longer
    // accepts (the password or keytab of the account with the SPN changed since it was issued).
    // The cached credential is dropped and a new one obtained from the KDC, which delegation then
    // holds: true. False, with delegation unchanged, when a new ticket would not help: Exchange never
    // accepted its credential (the refusal is Exchange's configuration, explained in the log), or the
    // credential was itself obtained after a refusal less than a minute ago. Fails as delegate does.
    boost::asio::awaitable<common::Result<bool>> renew(UserDelegation& delegation);

    // A fresh token from delegation, bound to channel_binding unless it is empty: CPU only, on the
    // caller's thread (MIT locks the credential for each use, so threads may share it).
    DelegationResult token(UserDelegation& delegation, std::string_view channel_binding);

    const DelegationCounters& counters() const;
    // (user, SPN) credentials held in the cache now.
    std::size_t cached_credentials() const;

    // Logs easgate in to the KDC in the background, and again every few seconds until that works:
    // the daemon starts without waiting for the KDC.
    void start_login();

    // nullopt once easgate has logged in to the KDC; until then why not, with the remedy.
    std::optional<std::string> not_ready_reason() const;
    // Its first login is under way: no verdict yet, and kerberos.timeout has not passed.
    bool logging_in() const;

    // At exit, once the event loops have stopped: every delegation still waiting for the KDC is
    // answered unavailable, as DirectoryClient::stop_waiting, so that the service ends (joining its
    // KDC threads) while the process stands.
    void stop_waiting();

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace easgate::delegation
