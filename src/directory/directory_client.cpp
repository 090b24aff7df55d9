#include "easgate/directory/directory_client.hpp"

#include <signal.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>
#include <mutex>
#include <utility>

#include "directory_servers.hpp"
#include "easgate/common/lru_cache.hpp"
#include "easgate/common/pooled_flights.hpp"
#include "easgate/common/text.hpp"
#include "easgate/config/units.hpp"
#include "easgate/directory/account_checks.hpp"
#include "easgate/directory/published_object.hpp"
#include "easgate/kerberos/kdc_watch.hpp"
#include "keytab_credential.hpp"
#include "ldap_connection.hpp"
#include "user_entry_checks.hpp"

namespace easgate::directory {
namespace {

// One search for one UPN, shared by every lookup of that UPN that arrives while it runs. A worker
// stuck past the lookup budget finishes unheard; its result still goes to the cache.
using SearchFlight = common::Flight<UserLookup>;
using Published = common::Result<std::string>;

// Cached lookups: ~10-20 MB with typical memberOf lists; more users than this active within one
// cache_ttl only means more searches.
constexpr std::size_t max_cached_lookups = 10'000;

struct CachedLookup {
    UserLookup result;
    std::chrono::steady_clock::time_point expires;
};

// A second hit is enough to know the UPN is ambiguous.
constexpr int size_limit = 2;

// libldap writes with write(2): on a connection the DC has closed that raises SIGPIPE, which would
// end the process. Blocked in the pool's threads (they inherit the creating thread's mask), the
// write fails with EPIPE instead and the connection is re-opened.
std::unique_ptr<boost::asio::thread_pool> start_pool_without_sigpipe(unsigned threads) {
    sigset_t sigpipe;
    sigemptyset(&sigpipe);
    sigaddset(&sigpipe, SIGPIPE);
    sigset_t previous;
    pthread_sigmask(SIG_BLOCK, &sigpipe, &previous);
    auto pool = std::make_unique<boost::asio::thread_pool>(std::max(threads, 1u));
    pthread_sigmask(SIG_SETMASK, &previous, nullptr);
    return pool;
}

common::Failure unavailable(std::string detail) {
    return common::Failure::unavailable(std::move(detail)).because("unavailable");
}

UserLookup judge(const AccountSearch& account, const LdapSearchResult& search,
                 const LdapConnection& connection, const std::string& base_dn) {
    if (!search.status.ok()) {
        std::string detail =
            "search for " + account.value + " on " + connection.uri() + " failed: " + search.status.message;
        if (search.status.code == LDAP_NO_SUCH_OBJECT)
            detail += "; check directory.base_dn (" + base_dn + ")";
        if (search.status.code == LDAP_REFERRAL)
            detail += ": that server holds no partition with directory.base_dn (" + base_dn +
                      ") and refers to another, which easgate does not follow; set base_dn to the "
                      "domain of the DCs in directory.uris (their defaultNamingContext), or list DCs "
                      "of the domain that holds " +
                      base_dn;
        return unavailable(std::move(detail));
    }
    if (search.entries.empty()) {
        return common::Failure::refused(
            "not_found", "no user has " + account.attribute + " " + account.value + " under " + base_dn);
    }
    if (search.entries.size() > 1 || search.size_limit_exceeded) {
        return common::Failure::refused("ambiguous", "ambiguous: more than one account under " + base_dn +
                                                         " has " + account.attribute + " " + account.value +
                                                         "; make it unique");
    }
    return judge_account(search.entries.front(), connection.uri(), std::chrono::system_clock::now());
}

}  // namespace

struct DirectoryClient::Impl {
    Impl(const config::DirectoryConfig& directory, const config::KerberosConfig* kerberos,
         LoginExplainer explain_login)
        : config(directory) {
        bind.method = config.bind;
        if (config.bind == config::DirectoryBind::gssapi) {
            if (kerberos == nullptr) {
                throw config::ConfigError(
                    "directory: the GSSAPI bind needs the kerberos: section (keytab, principal)");
            }
            credential = std::make_unique<KeytabCredential>(kerberos->keytab, kerberos->principal,
                                                            std::move(explain_login));
            bind.credential = credential.get();
        } else {
            bind.dn = config.bind_dn;
            bind.password = read_password(config.password_file);
        }
        pool = start_pool_without_sigpipe(config.max_concurrent);
    }

    // Lets running searches finish (each bounded by timeout per URI) and answers the queued ones
    // unavailable without asking a DC: their waiters hold coroutines that must be resumed, not
    // destroyed from here, but nobody waits for their answers any more (the client goes at shutdown
    // or when a reload replaced it). Run, up to max_queued_lookups searches against silent DCs would
    // hold shutdown past systemd's stop timeout.
    ~Impl() {
        closing = true;
        pool->join();
    }

    // The search in flight for key, or a new one queued for the pool, or, with the queue full, a
    // flight already answered unavailable. One stuck past the lookup budget is left to finish on its
    // own: a later lookup starts anew, queued behind it.
    std::shared_ptr<SearchFlight> query_or_join(const std::string& key, const AccountSearch& account) {
        std::lock_guard lock(mutex);
        const auto joined = flights.join(
            key, lookup_budget(), *pool,
            [this, key, account](const std::shared_ptr<SearchFlight>& flight) {
                UserLookup result = closing ? UserLookup(closed()) : query(account);
                remember(key, result);
                {
                    std::lock_guard landing(mutex);
                    flights.land(key, flight);
                }
                flight->complete(std::move(result));
            },
            [this]() -> UserLookup { return queue_full(); });
        if (!joined.started) ++counters.shared_lookups;
        if (joined.overloaded) ++counters.queue_full;
        return joined.flight;
    }

    // The read in flight for url, or a new one queued for the pool (as query_or_join).
    std::shared_ptr<common::Flight<Published>> read_or_join(const std::string& url, PublishedObject object,
                                                            std::chrono::milliseconds timeout) {
        std::lock_guard lock(mutex);
        const auto joined = reads.join(
            url, read_budget(timeout), *pool,
            [this, url, object, timeout](const std::shared_ptr<common::Flight<Published>>& flight) {
                Published result = closing ? Published(closed()) : read(object, timeout);
                {
                    std::lock_guard landing(mutex);
                    reads.land(url, flight);
                }
                flight->complete(std::move(result));
            },
            [this]() -> Published { return queue_full(); });
        if (joined.overloaded) ++counters.queue_full;
        return joined.flight;
    }

    // A read's steps: on each URI, the connection's open and the read itself (with GSSAPI, and the
    // KDC watch's verdict after a timed-out one).
    std::chrono::milliseconds read_budget(std::chrono::milliseconds timeout) const {
        return lookup_budget() + (timeout - config.timeout) * static_cast<std::int64_t>(config.uris.size());
    }

    // Every step a lookup may take: a search on a reused connection, then each URI's open, a search
    // there and a read of the user's entry it fails (the server that serves answers its reads at
    // once); with GSSAPI after each timed-out URI the wait for the KDC watch's verdict. A lookup still
    // unanswered then is stuck where libldap's and easgate's timeouts don't reach (a KDC exchange in the
    // GSSAPI bind), or queued behind such lookups.
    std::chrono::milliseconds lookup_budget() const {
        const auto uris = static_cast<std::int64_t>(config.uris.size());
        const auto verdicts = config.bind == config::DirectoryBind::gssapi
                                  ? kerberos::KdcWatch::longest_wait * uris
                                  : std::chrono::milliseconds(0);
        return config.timeout * (3 * uris + 1) + verdicts;
    }

    static common::Failure closed() {
        return unavailable("the directory client was stopped (shutdown or reload) before this search ran");
    }

    common::Failure queue_full() const {
        return unavailable("overloaded: directory.max_queued_lookups (" +
                           std::to_string(config.max_queued_lookups) +
                           ") searches are already waiting for one of directory.max_concurrent (" +
                           std::to_string(config.max_concurrent) +
                           ") LDAP workers: the directory answers too slowly for this load");
    }

    // A lookup that ended without the search's answer: its budget passed, or its caller cancelled it.
    // budget_spent: how long the caller waited; cached: whether the search's result will be.
    common::Failure gave_up(boost::system::error_code why, bool started,
                            std::chrono::milliseconds budget_spent, bool cached = true) const {
        if (why == boost::asio::error::operation_aborted)
            return unavailable("cancelled: the caller stopped waiting (the search goes on" +
                               std::string(cached ? " and its result is cached)" : ")"));
        const std::string budget = config::format_duration(budget_spent);
        if (!started) {
            return unavailable("timed out: no LDAP worker became free within " + budget +
                               ": all directory.max_concurrent (" + std::to_string(config.max_concurrent) +
                               ") are waiting for directory servers or a KDC that don't answer in time");
        }
        std::string detail =
            "timed out: no answer from the directory within " + budget +
            " (directory.timeout for a search, then for each URI's connection, a search and a read there)";
        if (config.bind == config::DirectoryBind::gssapi)
            detail +=
                ": is the KDC answering? The GSSAPI bind needs easgate's ticket and one for the DC from it";
        return unavailable(std::move(detail));
    }

    void remember(const std::string& key, const UserLookup& result) {
        if (result) {
            store(key, result, config.cache_ttl);
        } else if (result.error().status != 503) {
            // Refusals too: an admin's fix (enable, clear NOT_DELEGATED) shows within the shorter TTL.
            store(key, result, config.negative_cache_ttl);
        }
    }

    void store(const std::string& key, const UserLookup& result, std::chrono::milliseconds ttl) {
        if (ttl <= std::chrono::milliseconds::zero()) return;
        const auto expires = std::chrono::steady_clock::now() + ttl;
        std::lock_guard lock(mutex);
        cache.store(key, {result, expires});
    }

    // An unexpired result for key; an expired one is replaced when its search ends.
    std::optional<UserLookup> cached(const std::string& key) {
        std::lock_guard lock(mutex);
        const CachedLookup* entry = cache.find(key);
        if (entry == nullptr || entry->expires <= std::chrono::steady_clock::now()) return std::nullopt;
        ++counters.cache_hits;
        return entry->result;
    }

    // On a pool thread: blocking libldap work. A server that finds the user but then fails the reads
    // its entry still needs rests, as one failing the search does, and the lookup is made again on
    // another server, never on one the lookup gave up on, and not once its caller has.
    UserLookup query(const AccountSearch& account) {
        const std::string filter = "(&(objectCategory=person)(objectClass=user)" + account.condition + ")";
        const auto deadline = std::chrono::steady_clock::now() + lookup_budget();
        auto connection = servers.checkout();
        std::vector<std::string> avoided;  // servers this lookup gave up on
        UserLookup result = unavailable("no directory server was asked");
        while (avoided.size() < config.uris.size() && std::chrono::steady_clock::now() < deadline) {
            const auto search = servers.search_any(*connection, filter, account_attributes(), size_limit,
                                                   account.value, avoided);
            result = search ? judge(account, *search, *connection, config.base_dn) : search.error();
            if (!result) break;
            UserEntryChecks checks(servers, *connection, config);
            result = checks.complete(search->entries.front(), std::move(*result));
            if (result || !checks.server_unfit()) break;
            avoided.push_back(connection->uri());
            servers.rest(*connection);
            if (avoided.size() < config.uris.size())
                spdlog::warn("directory: {}; trying the next server", result.error().reason);
            else
                servers.remember_outage(result.error().reason);
        }
        servers.checkin(std::move(connection));
        return result;
    }

    // On a pool thread: the published object's attribute, from any server that has it.
    Published read(const PublishedObject& object, std::chrono::milliseconds timeout) {
        auto connection = servers.checkout();
        auto entry = servers.read_any(*connection, object.dn, object.filter, object.attribute, timeout);
        servers.checkin(std::move(connection));
        if (entry) {
            for (auto& [attribute, values] : *entry)
                if (!values.empty() && !values.front().empty()) return std::move(values.front());
        }
        auto failure = entry.error();
        if (failure.cause == "not_published")
            failure.reason +=
                ": the CA has not published it to Active Directory (an enterprise CA publishes each new CRL "
                "there when its CDP has \"Publish CRLs to this location\" for this URL; an offline root's: "
                "certutil -dspublish -f <CRL file>), it has not replicated to these DCs yet, or easgate's "
                "account may not read it";
        return failure;
    }

    const config::DirectoryConfig config;
    std::unique_ptr<KeytabCredential> credential;  // GSSAPI only
    LdapBind bind;
    DirectoryCounters counters{config.uris};
    DirectoryServers servers{config, bind, counters};
    mutable std::mutex mutex;  // guards cache and flights
    common::LruCache<CachedLookup> cache{max_cached_lookups};
    common::PooledFlights<UserLookup> flights{config.max_queued_lookups};  // by cache key: one per UPN
    common::PooledFlights<Published> reads{config.max_queued_lookups};     // by URL
    std::atomic<bool> closing{false};                // queued searches are answered, not run
    std::unique_ptr<boost::asio::thread_pool> pool;  // last: its threads use all of the above
};

DirectoryClient::DirectoryClient(const config::DirectoryConfig& directory,
                                 const config::KerberosConfig* kerberos, LoginExplainer explain_login)
    : impl_(std::make_unique<Impl>(directory, kerberos, std::move(explain_login))) {}

DirectoryClient::~DirectoryClient() = default;

std::optional<UserLookup> DirectoryClient::find_now(const AccountSearch& account) {
    if (account.value.empty()) return common::Failure::refused("not_found", "empty " + account.attribute);
    // AD matches these attributes case-insensitively, so the cache does too. The key is built in
    // this thread's own buffer: a cached answer costs no allocation.
    thread_local std::string key;
    key.assign(account.condition);
    std::ranges::transform(key, key.begin(), common::ascii_lower);
    return impl_->cached(key);
}

boost::asio::awaitable<UserLookup> DirectoryClient::find(AccountSearch account) {
    if (auto answer = find_now(account)) co_return std::move(*answer);
    const std::string key = common::ascii_lowercase(account.condition);
    const auto flight = impl_->query_or_join(key, account);
    auto waited = co_await flight->wait(impl_->lookup_budget());
    if (!waited) co_return impl_->gave_up(waited.error(), flight->started(), impl_->lookup_budget());
    co_return std::move(*waited);
}

boost::asio::awaitable<common::Result<std::string>> DirectoryClient::read_published(
    std::string url, std::chrono::milliseconds timeout) {
    auto object = parse_published_object(url);
    if (!object) co_return object.error();
    const auto flight = impl_->read_or_join(url, std::move(*object), timeout);
    auto waited = co_await flight->wait(impl_->read_budget(timeout));
    if (!waited)
        co_return impl_->gave_up(waited.error(), flight->started(), impl_->read_budget(timeout), false);
    co_return std::move(*waited);
}

const DirectoryCounters& DirectoryClient::counters() const { return impl_->counters; }

std::size_t DirectoryClient::cached_lookups() const {
    std::lock_guard lock(impl_->mutex);
    return impl_->cache.size();
}

void DirectoryClient::forget_lookups() {
    std::lock_guard lock(impl_->mutex);
    impl_->cache.clear();
}

void DirectoryClient::stop_waiting() {
    impl_->closing = true;
    std::vector<std::shared_ptr<SearchFlight>> searches;
    std::vector<std::shared_ptr<common::Flight<Published>>> reads;
    {
        std::lock_guard lock(impl_->mutex);
        searches = impl_->flights.land_all();
        reads = impl_->reads.land_all();
    }
    for (const auto& flight : searches) flight->complete(Impl::closed());
    for (const auto& flight : reads) flight->complete(Impl::closed());
}

std::optional<std::string> DirectoryClient::not_ready_reason() const {
    return impl_->servers.not_ready_reason();
}

}  // namespace easgate::directory
