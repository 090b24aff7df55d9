#include "easgate/delegation/delegation_service.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <exception>
#include <functional>
#include <mutex>
#include <optional>
#include <utility>

#include "delegated_credential.hpp"
#include "easgate/common/lru_cache.hpp"
#include "easgate/common/pooled_flights.hpp"
#include "easgate/common/spawn_handlers.hpp"
#include "easgate/config/units.hpp"
#include "easgate/kerberos/kdc_watch.hpp"
#include "kdc_exchange.hpp"

namespace easgate::delegation {
namespace {

// Each entry holds three tickets with PACs in a MEMORY ccache (a few KB to ~20 KB with large group
// lists), so 50,000 (user, SPN) pairs stay well under a GB while covering a large deployment's
// active devices; beyond that the least recently used pays two TGS round trips again.
constexpr std::size_t max_cached_credentials = 50'000;

// Until easgate has logged in once, it tries again this long after each failure.
constexpr std::chrono::seconds login_retry_interval{10};

// A credential obtained because Exchange refused the one before it is not renewed again sooner
// (DelegatedCredential::worth_renewing).
constexpr std::chrono::minutes renewal_spacing{1};

// After a refresh the KDC could not serve, the ticket in use is refreshed again this long after.
constexpr std::chrono::seconds refresh_retry_interval{10};

// How long the background login waits for krb5 to give up on a KDC that never answers (krb5 1.20
// has no setting for it; it gives up after about 30 s).
constexpr std::chrono::hours no_deadline{24};

using KdcFlight = common::Flight<DelegationOutcome>;

// A credential is the name's and the account's it stood for: see DelegationService::delegate.
std::string cache_key(const std::string& user_principal, const std::string& account, const std::string& spn) {
    return user_principal + '\n' + account + '\n' + spn;
}

}  // namespace

struct DelegationService::Impl {
    Impl(const config::KerberosConfig& kerberos_config, std::function<Clock::time_point()> clock)
        : now(std::move(clock)),
          kerberos(kerberos_config),
          kdc(kerberos, counters, now),
          kdc_threads(std::max(1U, kerberos.max_concurrent_kdc)) {
        if (const auto* order = kerberos::KdcOrderFile::installed())
            kdc_watch.emplace(*order, kerberos::KdcWatch::Settings{.realm = kerberos.realm(),
                                                                   .principal = kerberos.principal,
                                                                   .timeout = kerberos.timeout,
                                                                   .asked_last = &counters.kdcs_asked_last});
    }

    // Threads stuck in krb5 are waited for here; nothing queued behind them runs any more.
    ~Impl() {
        kdc_threads.stop();
        kdc_threads.join();
    }

    // A wait that ended without an answer: its deadline passed, or its caller cancelled it.
    common::Failure gave_up(boost::system::error_code why, const std::string& user, const std::string& spn) {
        if (why == boost::asio::error::operation_aborted) {
            return common::Failure::unavailable("cancelled: the caller stopped waiting for a ticket for " +
                                                user + " to " + spn +
                                                " (the KDC exchange goes on and its ticket is cached)")
                .because("cancelled");
        }
        ++counters.failures;
        kdc_silent();
        auto failure = kdc.timed_out(user, spn);
        spdlog::warn("delegation: {}", failure.reason);
        return failure;
    }

    // A KDC exchange went unanswered for kerberos.timeout: perhaps a KDC is hung.
    void kdc_silent() {
        if (kdc_watch) kdc_watch->suspect();
    }

    bool superseded(const std::string& key, const std::shared_ptr<KdcFlight>& flight) {
        std::lock_guard lock(mutex);
        return !flights.flying(key, flight);
    }

    // On a KDC thread: one exchange for a (user, SPN), handed to everyone waiting for it. A flight
    // replaced while it queued behind stuck ones is not flown: its successor asks the KDC instead.
    void fly(const std::string& key, const std::string& user, const std::string& spn,
             const std::shared_ptr<KdcFlight>& flight, bool renewal) {
        DelegationOutcome outcome;
        if (superseded(key, flight))
            return flight->complete(DelegationOutcome::refused(kdc.timed_out(user, spn)));
        try {
            outcome = kdc.obtain(user, spn);
        } catch (const std::exception& error) {  // e.g. bad_alloc: the waiters must still wake up
            outcome.failure = common::Failure::unavailable(std::string("delegation failed: ") + error.what())
                                  .because("error");
        }
        if (!outcome.credential) spdlog::warn("delegation: {}", outcome.failure.reason);
        if (outcome.credential && renewal) outcome.credential->replaces_refused();
        {
            std::lock_guard lock(mutex);
            if (outcome.credential) {
                cache.store(key, outcome.credential);
            } else {
                refresh_failed(key, user, spn, outcome.failure);
            }
            flights.land(key, flight);
        }
        flight->complete(std::move(outcome));
    }

    // One login at a time on a KDC thread, until one works; the log says why not, once the KDC has
    // been silent for kerberos.timeout and again when krb5 gives up.
    boost::asio::awaitable<void> log_in_until_ready() {
        boost::asio::steady_timer pause(co_await boost::asio::this_coro::executor);
        for (;;) {
            auto login = std::make_shared<common::Flight<kerberos::GssStatus>>();
            boost::asio::post(kdc_threads,
                              [this, login] { login->complete(kdc.service_credentials().lease().status()); });
            auto status = co_await login->wait(kerberos.timeout);
            if (!status) {
                kdc_silent();
                spdlog::warn(
                    "delegation: {}; easgate keeps trying and reports not ready on /healthz meanwhile",
                    kdc.service_credentials().not_ready_reason().value_or("logged in"));
                status = co_await login->wait(no_deadline);
            }
            if (!status.value().failed()) {
                spdlog::info("delegation: logged in to the KDC of {} as {}", kdc.realm(), kerberos.principal);
                co_return;
            }
            spdlog::error("delegation: {}; trying again in {}", kdc.service_credentials().explain(*status),
                          config::format_duration(login_retry_interval));
            pause.expires_after(login_retry_interval);
            co_await pause.async_wait(boost::asio::use_awaitable);
        }
    }

    // delegate(), for a renewal too: a credential obtained for one is marked as such.
    boost::asio::awaitable<common::Result<UserDelegation>> delegate(std::string user_principal,
                                                                    std::string target_spn, bool* from_cache,
                                                                    bool renewal, std::string account) {
        const std::string key = cache_key(user_principal, account, target_spn);
        std::shared_ptr<DelegatedCredential> cached;
        common::PooledFlights<DelegationOutcome>::Joined joined;
        {
            std::lock_guard lock(mutex);
            cached = cached_credential(key, user_principal, target_spn);
            if (!cached) joined = fly_or_join(key, user_principal, target_spn, renewal);
        }
        if (from_cache) *from_cache = cached != nullptr;
        if (cached) {
            ++counters.cache_hits;
            co_return UserDelegation(std::move(cached), std::move(user_principal), std::move(account),
                                     std::move(target_spn), {});
        }
        const auto& flight = joined.flight;
        auto outcome = co_await flight->wait(kerberos.timeout);
        if (!outcome) co_return gave_up(outcome.error(), user_principal, target_spn);
        if (!outcome->credential) {
            ++counters.failures;
            co_return outcome->failure;
        }
        // The exchange's own token goes to the request that started it; the others make their own.
        co_return UserDelegation(std::move(outcome->credential), std::move(user_principal),
                                 std::move(account), std::move(target_spn),
                                 joined.started ? std::move(outcome->first_token) : std::string());
    }

    // The cached credential for key while it can be used, else null. One due for refresh is still
    // handed out while its tickets last, and the refresh runs in the background: a slow or absent
    // KDC then delays nobody until the tickets really end. With mutex held.
    std::shared_ptr<DelegatedCredential> cached_credential(const std::string& key, const std::string& user,
                                                           const std::string& spn) {
        auto* entry = cache.find(key);
        if (entry == nullptr) return nullptr;
        const auto now = this->now();
        if ((*entry)->fresh(now)) return *entry;
        if (!(*entry)->usable(now)) return nullptr;
        fly_or_join(key, user, spn, false);
        return *entry;
    }

    // With mutex held: the KDC exchange in flight for key, joined, or a new one queued for a KDC
    // thread, or, with kerberos.max_queued_kdc waiting, one already answered unavailable. One stuck
    // longer than kerberos.timeout (a silent KDC) is left to finish on its own: a new one is queued
    // behind it.
    common::PooledFlights<DelegationOutcome>::Joined fly_or_join(const std::string& key,
                                                                 const std::string& user,
                                                                 const std::string& spn, bool renewal) {
        auto joined = flights.join(
            key, kerberos.timeout, kdc_threads,
            [this, key, user, spn, renewal](const auto& flight) { fly(key, user, spn, flight, renewal); },
            [this] { return DelegationOutcome::refused(queue_full()); });
        if (joined.overloaded) ++counters.queue_full;
        return joined;
    }

    common::Failure queue_full() const {
        return common::Failure::unavailable(
                   "overloaded: kerberos.max_queued_kdc (" + std::to_string(kerberos.max_queued_kdc) +
                   ") KDC exchanges are already waiting for one of kerberos.max_concurrent_kdc (" +
                   std::to_string(kerberos.max_concurrent_kdc) +
                   ") KDC threads: the KDC answers too slowly for this load")
            .because("kdc_overloaded");
    }

    // With mutex held: a refresh of key failed. The KDC refusing the user (disabled, not
    // delegable) ends the cached credential too; a KDC that is away leaves it in use while it
    // lasts, asked for again after a pause.
    void refresh_failed(const std::string& key, const std::string& user, const std::string& spn,
                        const common::Failure& failure) {
        auto* entry = cache.find(key);
        if (entry == nullptr) return;
        const auto now = this->now();
        if (failure.status == 403) {
            cache.erase(key);
        } else if (!(*entry)->fresh(now) && (*entry)->usable(now)) {
            (*entry)->postpone_refresh(now + refresh_retry_interval);
            spdlog::warn(
                "delegation: the ticket easgate holds for {} to {} stays in use until it ends or the "
                "KDC answers (its refresh is tried again in {})",
                user, spn, config::format_duration(refresh_retry_interval));
        }
    }

    const std::function<Clock::time_point()> now;  // when tickets are due and end
    const config::KerberosConfig kerberos;
    DelegationCounters counters;
    KdcExchange kdc;
    std::mutex mutex;  // guards cache and flights; never held across a KDC call
    common::LruCache<std::shared_ptr<DelegatedCredential>> cache{max_cached_credentials};
    common::PooledFlights<DelegationOutcome> flights{kerberos.max_queued_kdc};
    boost::asio::thread_pool kdc_threads;         // stopped and joined first, while what its jobs use exists
    std::optional<kerberos::KdcWatch> kdc_watch;  // with `easgate run`'s KdcOrderFile
};

DelegationService::DelegationService(const config::KerberosConfig& kerberos,
                                     std::function<std::chrono::steady_clock::time_point()> clock)
    : impl_(std::make_unique<Impl>(kerberos, std::move(clock))) {}

DelegationService::~DelegationService() = default;

const DelegationCounters& DelegationService::counters() const { return impl_->counters; }

std::size_t DelegationService::cached_credentials() const {
    std::lock_guard lock(impl_->mutex);
    return impl_->cache.size();
}

void DelegationService::start_login() {
    boost::asio::co_spawn(impl_->kdc_threads, impl_->log_in_until_ready(),
                          common::LogFailure{"delegation: the background KDC login"});
}

std::optional<std::string> DelegationService::not_ready_reason() const {
    return impl_->kdc.service_credentials().not_ready_reason();
}

bool DelegationService::logging_in() const { return impl_->kdc.service_credentials().logging_in(); }

void DelegationService::stop_waiting() {
    std::vector<std::shared_ptr<KdcFlight>> waiting;
    {
        std::lock_guard lock(impl_->mutex);
        waiting = impl_->flights.land_all();
    }
    for (const auto& flight : waiting)
        flight->complete(DelegationOutcome::refused(
            common::Failure::unavailable("easgate is stopping: the KDC exchange was abandoned")
                .because("unavailable")));
}

boost::asio::awaitable<DelegationResult> DelegationService::negotiate_token(std::string user_principal,
                                                                            std::string target_spn,
                                                                            std::string channel_binding,
                                                                            bool* from_cache) {
    auto delegation = co_await delegate(std::move(user_principal), std::move(target_spn), from_cache);
    if (!delegation) co_return delegation.error();
    co_return token(*delegation, channel_binding);
}

UserDelegation::UserDelegation(std::shared_ptr<const DelegatedCredential> credential,
                               std::string user_principal, std::string account, std::string target_spn,
                               std::string unbound_token)
    : credential_(std::move(credential)),
      user_principal_(std::move(user_principal)),
      account_(std::move(account)),
      target_spn_(std::move(target_spn)),
      unbound_token_(std::move(unbound_token)),
      authorization_bytes_(std::string_view("Negotiate ").size() + credential_->token_bytes()) {}

void UserDelegation::accepted() const { credential_->accepted(); }

std::optional<UserDelegation> DelegationService::delegate_now(const std::string& user_principal,
                                                              const std::string& target_spn,
                                                              const std::string& account) {
    Impl& impl = *impl_;
    std::shared_ptr<DelegatedCredential> cached;
    {
        std::lock_guard lock(impl.mutex);
        cached = impl.cached_credential(cache_key(user_principal, account, target_spn), user_principal,
                                        target_spn);
    }
    if (!cached) return std::nullopt;
    ++impl.counters.cache_hits;
    return UserDelegation(std::move(cached), user_principal, account, target_spn, {});
}

boost::asio::awaitable<common::Result<UserDelegation>> DelegationService::delegate(std::string user_principal,
                                                                                   std::string target_spn,
                                                                                   bool* from_cache,
                                                                                   std::string account) {
    return impl_->delegate(std::move(user_principal), std::move(target_spn), from_cache, false,
                           std::move(account));
}

boost::asio::awaitable<common::Result<bool>> DelegationService::renew(UserDelegation& delegation) {
    Impl& impl = *impl_;
    if (!delegation.credential_->worth_renewing(impl.now(), renewal_spacing)) co_return false;
    const std::string key =
        cache_key(delegation.user_principal_, delegation.account_, delegation.target_spn_);
    {
        std::lock_guard lock(impl.mutex);
        // Another request of the user may have renewed it already: then its successor is used.
        if (auto* entry = impl.cache.find(key); entry != nullptr && *entry == delegation.credential_) {
            impl.cache.erase(key);
            ++impl.counters.renewals;
        }
    }
    auto renewed = co_await impl.delegate(delegation.user_principal_, delegation.target_spn_, nullptr, true,
                                          delegation.account_);
    if (!renewed) co_return renewed.error();
    delegation = std::move(*renewed);
    co_return true;
}

// The ticket is in the credential's own MEMORY ccache (put there by the first token, and fresh()
// ends before the ticket does): this is CPU only, cheaper than a hop to another thread and back.
DelegationResult DelegationService::token(UserDelegation& delegation, std::string_view channel_binding) {
    if (channel_binding.empty() && !delegation.unbound_token_.empty())
        return std::exchange(delegation.unbound_token_, {});
    Impl& impl = *impl_;
    ++impl.counters.tokens;
    DelegatedCredential::Token token = delegation.credential_->make_token(channel_binding);
    if (!token.status.failed()) return std::move(token.negotiate);
    ++impl.counters.failures;
    auto refusal = impl.kdc.token_failed(delegation.user_principal_, delegation.target_spn_, token.status);
    spdlog::warn("delegation: {}", refusal.reason);
    return refusal;
}

}  // namespace easgate::delegation
