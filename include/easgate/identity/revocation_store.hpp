#pragma once

// The trust store devices are verified against, with CRLs that can change while easgate runs.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "easgate/identity/trust_store.hpp"

namespace easgate::identity {

// Whether crl, past its nextUpdate, is still inside a grace of client_auth.crl_refresh.grace (0: none).
bool within_grace(const X509_CRL* crl, std::chrono::milliseconds grace);

// The locations of one CRL named by a CRL Distribution Point (or Freshest CRL): alternatives, in the
// order the certificate or CRL lists them (AD CS: the ldap:/// location first, then http://).
using DistributionPoint = std::vector<std::string>;

// The URLs of a base CRL's Freshest CRL extension: where its CA publishes the delta CRL.
std::vector<std::string> freshest_crl_urls(X509_CRL* crl);

// What /metrics shows of the CRL refresh, summed over the listeners.
struct CrlRefreshCounters {
    std::atomic<std::uint64_t> fetches{0};   // CRL fetches from a distribution point's locations
    std::atomic<std::uint64_t> failures{0};  // rounds in which no location of a point gave its CRL: the last
                                             // good CRL stayed in use
    std::atomic<std::uint64_t> updates{0};   // newer CRLs swapped in
    std::atomic<std::uint64_t> failing{0};   // distribution points whose last fetch failed (a gauge)
};

// The anchors of trusted_ca_file and the newest CRL of each of them (base and delta). A change
// builds a whole new X509_STORE and swaps it in under the mutex; each handshake holds a reference
// to the store it began with (SSL_set1_verify_cert_store), so no store is ever changed while
// OpenSSL may be reading it, and the shared SSL_CTX is never touched after start.
class RevocationStore {
public:
    RevocationStore(std::vector<X509Ptr> anchors, std::vector<X509CrlPtr> seed_crls, bool check_revocation,
                    std::chrono::milliseconds grace);

    // The store of the moment, for one handshake.
    X509StorePtr current() const;
    // Counts the stores made (1 for the first): read before current(), it is never newer than the
    // store then returned.
    std::uint64_t generation() const { return generation_.load(std::memory_order_acquire); }
    // Until when (time_t) a chain verified against the current store stays verified as far as its
    // CRLs go: the earliest nextUpdate held, grace included; the far future when revocation is not
    // checked or no CRL has a nextUpdate.
    std::int64_t crls_hold_until() const { return crls_hold_until_.load(std::memory_order_acquire); }

    enum class Offer { installed, not_newer, for_unheld_base, unknown_issuer, bad_signature };
    // Swaps crl in when a listed CA signed it and it is newer (crlNumber, else thisUpdate) than the
    // one held for that CA key and kind (base or delta); a delta CRL built on a newer base than the
    // one held waits for that base (for_unheld_base).
    Offer offer(X509CrlPtr crl);

    // Remembers the CRL Distribution Points (and Freshest CRL) of cert, their fetchable locations,
    // when a listed CA signed it, so a forged certificate can't make easgate fetch from a URL of its
    // choosing.
    void learn_distribution_points(X509* cert);
    // The same for the listed CAs themselves: an issuing CA names its root's CRL.
    void learn_from_anchors();
    // A distribution point from an earlier run (CrlCache) whose CRL (a delta CRL, or not) this
    // store accepted, so a listed CA signed the certificate that named it.
    void remember_distribution_point(const std::string& url, bool delta);
    // True once, for the first refresher: a reload's refresher on a store it kept (its listener's
    // TLS settings unchanged) finds the CRLs of crl_refresh.cache_dir in it already, and spares the
    // accept thread parsing and verifying them again.
    bool first_cache_load() { return !cache_loaded_.exchange(true); }
    // Called (from any thread) when a distribution point was learned.
    void on_new_distribution_point(std::function<void()> wake);
    // The points to fetch, base CRLs' before delta CRLs': a round that took a new base's delta first
    // would hold, until it had that base, a delta for a newer base than the one held, which refuses
    // its CA's devices (delta_crl_refusal).
    std::vector<DistributionPoint> distribution_points() const;

    // Whether a CRL past its nextUpdate is still inside client_auth.crl_refresh.grace.
    bool within_grace(const X509_CRL* crl) const;
    // Whether a CRL's nextUpdate is ahead, or passed within the grace; never for one without (a
    // delta CRL that would count for ever).
    bool in_date(const X509_CRL* crl) const;
    // "CN=… (nextUpdate …)" for each CRL held that is past its nextUpdate.
    std::vector<std::string> expired_crls() const;

    // For /metrics: a name (RFC 2253) and the seconds until a date, negative once it passed.
    struct Deadline {
        std::string name;
        std::int64_t seconds;
        bool delta = false;  // a delta CRL
    };
    // Each CRL held, by issuer, until its nextUpdate (a CRL without one is left out).
    std::vector<Deadline> crl_next_updates() const;
    // Each trusted CA, by subject, until its notAfter.
    std::vector<Deadline> anchor_expiries() const;

private:
    // Whether a distribution point with a fetchable location was new.
    bool add_points_locked(const std::vector<DistributionPoint>& points, bool delta);
    void rebuild_locked();

    std::vector<X509Ptr> anchors_;
    bool check_revocation_;
    std::chrono::milliseconds grace_;
    mutable std::mutex mutex_;
    std::function<void()> wake_;  // set by a reload's refresher while handshakes may call it
    std::vector<X509CrlPtr> crls_;
    X509StorePtr store_;
    std::atomic<std::uint64_t> generation_{0};
    std::atomic<std::int64_t> crls_hold_until_{0};
    std::atomic<bool> cache_loaded_{false};
    // To fetch: their fetchable_crl_url locations, and whether they serve delta CRLs.
    std::map<DistributionPoint, bool> points_;
    std::set<DistributionPoint> seen_;  // as learned, all locations
    std::set<std::string> skipped_;     // ldap://server/…, https:// and others, logged once
};

// Seconds from now until time, negative once it has passed; nullopt without one (no nextUpdate).
std::optional<std::int64_t> seconds_until(const ASN1_TIME* time);

}  // namespace easgate::identity
