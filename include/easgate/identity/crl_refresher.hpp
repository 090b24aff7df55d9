#pragma once

// Keeps a listener's CRLs fresh from the CAs' CRL Distribution Points (client_auth.crl_refresh):
// http://, and ldap:/// read from the directory.

#include <atomic>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "easgate/config/config.hpp"
#include "easgate/identity/crl_cache.hpp"
#include "easgate/identity/crl_fetch.hpp"
#include "easgate/identity/revocation_store.hpp"

namespace easgate::identity {

// A CDP's answer offered to a store, CRL by CRL ("CN=… (nextUpdate …)" each).
struct OfferedCrls {
    std::vector<std::string> installed;  // newer than the store's: in use now
    std::vector<std::string> held;       // the store has these or newer ones
    std::string error;                   // why the answer is unusable; "" when it is usable
    bool past_next_update = false;       // every CRL in it is past its nextUpdate: a stale location
    bool deltas = false;                 // every CRL in it is a delta CRL
};
OfferedCrls offer_crls(RevocationStore& store, const std::string& body);

class CrlRefresher : public std::enable_shared_from_this<CrlRefresher> {
public:
    // directory reads the ldap:/// distribution points; without one (no directory section) they are
    // skipped, each with one log line. CRLs fetched are parsed and checked on slow_work when given:
    // one of many MiB takes seconds, which the executor's thread (the accept thread) can't spare.
    CrlRefresher(const boost::asio::any_io_executor& executor, std::shared_ptr<RevocationStore> store,
                 const config::CrlRefresh& settings, std::shared_ptr<CrlRefreshCounters> counters,
                 DirectoryCrlReader directory = {}, boost::asio::any_io_executor slow_work = {});

    // Offers the store the CRLs kept in cache_dir, then fetches every distribution point now, then
    // every interval, and at once when a device certificate names a new one. Runs on the
    // executor's thread; no fetch blocks a worker. still_failing: the points (by first location)
    // whose fetch failed for the refresher a reload stopped on the same store, counted on.
    void start(const std::set<std::string>& still_failing = {});
    // Ends the loop (a reload starts a refresher anew). On the executor's thread. Takes its failing
    // points out of the shared gauge and returns them, for its successor on the same store.
    std::set<std::string> stop();
    const RevocationStore* store() const { return store_.get(); }

private:
    boost::asio::awaitable<void> run(std::shared_ptr<CrlRefresher> self);
    boost::asio::awaitable<void> refresh(const DistributionPoint& point);
    // The fetched bytes into the store; an empty string when they held a usable CRL, else why not.
    std::string install(const std::string& url, const std::string& body);
    boost::asio::awaitable<std::string> install_on_slow_work(std::string url, std::string body);
    void load_cache();
    // Offers one cached entry; false when something in it was refused (logged on the last try).
    bool take_cached(const CrlCache::Entry& entry, bool last_try);
    // failures: "<url> failed: <why>" for each location tried, joined with "; from ".
    void record_failure(const std::string& point, const std::string& failures);
    void warn_about_expired_crls() const;

    std::shared_ptr<RevocationStore> store_;
    config::CrlRefresh settings_;
    std::shared_ptr<CrlRefreshCounters> counters_;
    DirectoryCrlReader directory_;
    boost::asio::any_io_executor slow_work_;
    std::set<std::string> unreadable_;  // ldap:/// locations without a directory or unusable, logged once
    boost::asio::steady_timer pause_;
    std::atomic<bool> pending_{false};  // a distribution point was learned: fetch without waiting
    std::set<std::string> failing_;     // distribution points (by first location) whose last fetch failed
    CrlCache cache_;
    std::set<std::string> cached_;  // distribution points whose CRL in the cache is the one in use
    bool stopped_ = false;
};

}  // namespace easgate::identity
