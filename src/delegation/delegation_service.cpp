#include "easgate/delegation/delegation_service.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cstdlib>
#include <exception>
#include <mutex>
#include <unordered_map>

#include "delegated_credential.hpp"
#include "easgate/common/lru_cache.hpp"
#include "easgate/delegation/kerberos_errors.hpp"
#include "kdc_flight.hpp"
#include "service_credentials.hpp"

namespace easgate::delegation {
namespace {

// Each entry holds three tickets with PACs in a MEMORY ccache (a few KB to ~20 KB with large group
// lists), so 50,000 (user, SPN) pairs stay well under a GB while covering a large deployment's
// active devices; beyond that the least recently used pays two TGS round trips again.
constexpr std::size_t max_cached_credentials = 50'000;

std::string krb5_conf_in_use(const config::KerberosConfig& kerberos) {
    if (!kerberos.krb5_conf.empty()) return kerberos.krb5_conf;
    const char* from_environment = std::getenv("KRB5_CONFIG");
    return from_environment != nullptr ? from_environment : "/etc/krb5.conf";
}

DelegationAttempt service_names(const config::KerberosConfig& kerberos) {
    return {.service_principal = kerberos.principal,
            .user_principal = {},
            .target_spn = {},
            .realm = kerberos.realm(),
            .krb5_conf = krb5_conf_in_use(kerberos)};
}

DelegationOutcome refused(DelegationResult failure) {
    DelegationOutcome outcome;
    outcome.failure = std::move(failure);
    return outcome;
}

DelegationResult token_result(std::string negotiate_token) {
    DelegationResult result;
    result.negotiate_token = std::move(negotiate_token);
    return result;
}

// A coroutine, not a lambda, so the credential lives in its frame for as long as it runs.
boost::asio::awaitable<DelegatedCredential::Token> new_token(std::shared_ptr<DelegatedCredential> credential,
                                                             std::string channel_binding) {
    co_return credential->make_token(channel_binding);
}

}  // namespace

struct DelegationService::Impl {
    explicit Impl(const config::KerberosConfig& kerberos_config)
        : kerberos(kerberos_config),
          service_credentials(kerberos, service_names(kerberos)),
          kdc_threads(std::max(1U, kerberos.max_concurrent_kdc)) {}

    DelegationAttempt attempt(const std::string& user, const std::string& spn) const {
        DelegationAttempt names = service_names(kerberos);
        names.user_principal = user;
        names.target_spn = spn;
        return names;
    }

    DelegationResult failure(KerberosStep step, const DelegationAttempt& names,
                             const GssStatus& status) const {
        return explain_kerberos_failure(step, names, static_cast<krb5_error_code>(status.minor),
                                        status.message());
    }

    // On a KDC thread: S4U2Self, then S4U2Proxy through the first token.
    DelegationOutcome obtain(const std::string& user, const std::string& spn) {
        const DelegationAttempt names = attempt(user, spn);
        const std::string target = spn.find('@') == std::string::npos ? spn + "@" + names.realm : spn;
        std::shared_ptr<DelegatedCredential> credential;
        {
            const ServiceCredentials::Lease login = service_credentials.lease();
            if (login.status().failed())
                return refused(failure(KerberosStep::service_login, names, login.status()));
            GssStatus status;
            credential = DelegatedCredential::impersonate(login.credential(), user, target,
                                                          kerberos.ticket_refresh_before, status);
            ++counters.s4u2self;
            if (!credential) return refused(failure(KerberosStep::s4u2self, names, status));
        }
        DelegatedCredential::Token token = credential->make_token();
        ++counters.s4u2proxy;
        if (token.status.failed()) return refused(failure(KerberosStep::s4u2proxy, names, token.status));
        credential->bound_refresh(token.ticket_lifetime);
        spdlog::info("delegation: obtained a ticket for {} to {} (valid {} s)", user, spn,
                     token.ticket_lifetime);
        DelegationOutcome outcome;
        outcome.credential = std::move(credential);
        outcome.first_token = std::move(token.negotiate);
        return outcome;
    }

    // On a KDC thread: one exchange for a (user, SPN), handed to everyone waiting for it.
    void fly(const std::string& key, const std::string& user, const std::string& spn,
             const std::shared_ptr<KdcFlight>& flight) {
        DelegationOutcome outcome;
        try {
            outcome = obtain(user, spn);
        } catch (const std::exception& error) {  // e.g. bad_alloc: the waiters must still wake up
            outcome.failure.failure = DelegationFailure::infrastructure;
            outcome.failure.detail = std::string("delegation failed: ") + error.what();
        }
        if (!outcome.credential) spdlog::warn("delegation: {}", outcome.failure.detail);
        {
            std::lock_guard lock(mutex);
            if (outcome.credential) cache.store(key, outcome.credential);
            flights.erase(key);
        }
        flight->complete(std::move(outcome));
    }

    // A token from a credential that already holds its service ticket: no KDC, but still on the KDC
    // threads, so that an unexpected trip to the KDC can never block the caller's I/O thread.
    boost::asio::awaitable<DelegationResult> token_from(std::shared_ptr<DelegatedCredential> credential,
                                                        const std::string& user, const std::string& spn,
                                                        std::string channel_binding) {
        ++counters.cache_hits;
        // co_spawn counts work only on the pool: keep the caller's io_context from running dry meanwhile.
        const auto caller_work = boost::asio::make_work_guard(co_await boost::asio::this_coro::executor);
        const DelegatedCredential::Token token = co_await boost::asio::co_spawn(
            kdc_threads, new_token(std::move(credential), std::move(channel_binding)),
            boost::asio::use_awaitable);
        if (!token.status.failed()) co_return token_result(token.negotiate);
        ++counters.failures;
        DelegationResult result = failure(KerberosStep::s4u2proxy, attempt(user, spn), token.status);
        spdlog::warn("delegation: {}", result.detail);
        co_return result;
    }

    const config::KerberosConfig kerberos;
    DelegationCounters counters;
    ServiceCredentials service_credentials;
    std::mutex mutex;  // guards cache and flights
    common::LruCache<std::shared_ptr<DelegatedCredential>> cache{max_cached_credentials};
    std::unordered_map<std::string, std::shared_ptr<KdcFlight>> flights;
    boost::asio::thread_pool kdc_threads;  // last: stopped and joined first, while what its jobs use exists
};

DelegationService::DelegationService(const config::KerberosConfig& kerberos)
    : impl_(std::make_unique<Impl>(kerberos)) {}

DelegationService::~DelegationService() = default;

const DelegationCounters& DelegationService::counters() const { return impl_->counters; }

boost::asio::awaitable<DelegationResult> DelegationService::negotiate_token(std::string user_principal,
                                                                            std::string target_spn,
                                                                            std::string channel_binding) {
    Impl& impl = *impl_;
    const std::string key = user_principal + '\n' + target_spn;
    std::shared_ptr<DelegatedCredential> cached;
    std::shared_ptr<KdcFlight> flight;
    bool started_flight = false;
    {
        std::lock_guard lock(impl.mutex);
        if (auto* entry = impl.cache.find(key); entry != nullptr && (*entry)->fresh(Clock::now())) {
            cached = *entry;
        } else {
            auto [it, inserted] = impl.flights.try_emplace(key);
            if (inserted) it->second = std::make_shared<KdcFlight>();
            flight = it->second;
            started_flight = inserted;
        }
    }
    if (started_flight) {
        boost::asio::post(impl.kdc_threads, [&impl, key, user_principal, target_spn, flight] {
            impl.fly(key, user_principal, target_spn, flight);
        });
    }
    if (flight) {
        DelegationOutcome outcome = co_await flight->wait();
        if (!outcome.credential) {
            ++impl.counters.failures;
            co_return outcome.failure;
        }
        // The flight's token is unbound: a bound one is made below, from the new credential.
        if (started_flight && channel_binding.empty()) co_return token_result(std::move(outcome.first_token));
        cached = std::move(outcome.credential);
    }
    co_return co_await impl.token_from(std::move(cached), user_principal, target_spn,
                                       std::move(channel_binding));
}

}  // namespace easgate::delegation
