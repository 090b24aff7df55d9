#include "easgate/identity/revocation_store.hpp"

#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <ctime>
#include <limits>

#include "easgate/identity/crl_fetch.hpp"

namespace easgate::identity {
namespace {

using DistPointsPtr = common::OpenSslPtr<STACK_OF(DIST_POINT), CRL_DIST_POINTS_free>;

// The points of a CRL Distribution Points or Freshest CRL extension (both are
// CRLDistributionPoints), each with its URIs in the extension's order.
std::vector<DistributionPoint> points_of(DistPointsPtr points) {
    std::vector<DistributionPoint> out;
    for (int i = 0; points && i < sk_DIST_POINT_num(points.get()); ++i) {
        const DIST_POINT* point = sk_DIST_POINT_value(points.get(), i);
        if (!point->distpoint || point->distpoint->type != 0) continue;  // fullName only
        const GENERAL_NAMES* names = point->distpoint->name.fullname;
        DistributionPoint& uris = out.emplace_back();
        for (int j = 0; j < sk_GENERAL_NAME_num(names); ++j) {
            const GENERAL_NAME* name = sk_GENERAL_NAME_value(names, j);
            if (name->type != GEN_URI) continue;
            const ASN1_IA5STRING* uri = name->d.uniformResourceIdentifier;
            uris.emplace_back(reinterpret_cast<const char*>(ASN1_STRING_get0_data(uri)),
                              static_cast<std::size_t>(ASN1_STRING_length(uri)));
        }
    }
    return out;
}

// A certificate's CRL Distribution Points (nid NID_crl_distribution_points) or Freshest CRL.
std::vector<DistributionPoint> certificate_points(X509* cert, int nid) {
    return points_of(
        DistPointsPtr(static_cast<STACK_OF(DIST_POINT)*>(X509_get_ext_d2i(cert, nid, nullptr, nullptr))));
}

std::vector<DistributionPoint> freshest_crl_points(X509_CRL* crl) {
    return points_of(DistPointsPtr(
        static_cast<STACK_OF(DIST_POINT)*>(X509_CRL_get_ext_d2i(crl, NID_freshest_crl, nullptr, nullptr))));
}

bool past(const ASN1_TIME* time, std::time_t moment) { return time && X509_cmp_time(time, &moment) < 0; }

}  // namespace

std::vector<std::string> freshest_crl_urls(X509_CRL* crl) {
    std::vector<std::string> urls;
    for (const auto& point : freshest_crl_points(crl)) urls.insert(urls.end(), point.begin(), point.end());
    return urls;
}

std::optional<std::int64_t> seconds_until(const ASN1_TIME* time) {
    int days = 0;
    int seconds = 0;
    if (!time || ASN1_TIME_diff(&days, &seconds, nullptr, time) != 1) return std::nullopt;
    return std::int64_t{days} * 86400 + seconds;
}

RevocationStore::RevocationStore(std::vector<X509Ptr> anchors, std::vector<X509CrlPtr> seed_crls,
                                 bool check_revocation, std::chrono::milliseconds grace)
    : anchors_(std::move(anchors)),
      check_revocation_(check_revocation),
      grace_(grace),
      crls_(std::move(seed_crls)) {
    const std::lock_guard lock(mutex_);
    for (const auto& crl : crls_) add_points_locked(freshest_crl_points(crl.get()), true);
    rebuild_locked();
}

X509StorePtr RevocationStore::current() const {
    const std::lock_guard lock(mutex_);
    X509_STORE_up_ref(store_.get());
    return X509StorePtr(store_.get());
}

RevocationStore::Offer RevocationStore::offer(X509CrlPtr crl) {
    X509* signer = crl_signer(crl.get(), anchors_);
    if (!signer) {
        const bool named = std::any_of(anchors_.begin(), anchors_.end(), [&crl](const X509Ptr& anchor) {
            return X509_NAME_cmp(X509_get_subject_name(anchor.get()), X509_CRL_get_issuer(crl.get())) == 0;
        });
        return named ? Offer::bad_signature : Offer::unknown_issuer;
    }
    std::function<void()> wake;
    {
        const std::lock_guard lock(mutex_);
        const auto held_of_kind = [&](bool delta) {
            return std::find_if(crls_.begin(), crls_.end(), [&](const X509CrlPtr& candidate) {
                return is_delta_crl(candidate.get()) == delta &&
                       X509_NAME_cmp(X509_CRL_get_issuer(candidate.get()), X509_CRL_get_issuer(crl.get())) ==
                           0 &&
                       X509_CRL_verify(candidate.get(), X509_get0_pubkey(signer)) == 1;  // not another key's
            });
        };
        const auto held = held_of_kind(is_delta_crl(crl.get()));
        // A delta for a base not held yet (the CA's web server took the new delta before the new
        // base) would refuse the CA's devices; the delta held goes on with the base held meanwhile.
        const auto base = is_delta_crl(crl.get()) ? held_of_kind(false) : crls_.end();
        ERR_clear_error();
        if (held != crls_.end() && !newer_crl(crl.get(), held->get())) return Offer::not_newer;
        if (base != crls_.end() && for_newer_base(crl.get(), base->get())) return Offer::for_unheld_base;
        // A base CRL fetched for the first time names where its delta CRLs are: fetched at once, not
        // an interval later.
        if (add_points_locked(freshest_crl_points(crl.get()), true)) wake = wake_;
        if (held != crls_.end()) {
            *held = std::move(crl);
        } else {
            crls_.push_back(std::move(crl));
        }
        rebuild_locked();
    }
    if (wake) wake();  // outside the lock: it may take it
    return Offer::installed;
}

void RevocationStore::learn_distribution_points(X509* cert) {
    const auto bases = certificate_points(cert, NID_crl_distribution_points);
    const auto deltas = certificate_points(cert, NID_freshest_crl);
    std::function<void()> wake;
    {
        const std::lock_guard lock(mutex_);
        const auto known = [this](const DistributionPoint& point) { return seen_.count(point) > 0; };
        if (std::all_of(bases.begin(), bases.end(), known) &&
            std::all_of(deltas.begin(), deltas.end(), known))
            return;
        if (!certificate_signer(cert, anchors_)) return;
        const bool new_base = add_points_locked(bases, false);
        if (add_points_locked(deltas, true) || new_base) wake = wake_;
    }
    if (wake) wake();  // outside the lock: it may take it
}

void RevocationStore::on_new_distribution_point(std::function<void()> wake) {
    const std::lock_guard lock(mutex_);
    wake_ = std::move(wake);
}

void RevocationStore::learn_from_anchors() {
    for (const auto& anchor : anchors_) learn_distribution_points(anchor.get());
}

void RevocationStore::remember_distribution_point(const std::string& url, bool delta) {
    const std::lock_guard lock(mutex_);
    const bool known = std::any_of(points_.begin(), points_.end(), [&url](const auto& point) {
        return std::find(point.first.begin(), point.first.end(), url) != point.first.end();
    });
    if (!known) add_points_locked({{url}}, delta);
}

bool RevocationStore::add_points_locked(const std::vector<DistributionPoint>& points, bool delta) {
    bool learned = false;
    for (const auto& point : points) {
        if (!seen_.insert(point).second) continue;
        DistributionPoint fetchable;
        for (const auto& url : point) {
            if (fetchable_crl_url(url)) {
                fetchable.push_back(url);
            } else if (skipped_.insert(url).second) {
                spdlog::info(
                    "CRL distribution point {} skipped: easgate fetches CRLs over http://, and from the "
                    "directory at ldap:/// locations (no server named)",
                    url);
            }
        }
        if (fetchable.empty()) continue;
        // A location remembered alone (from the cache) is now known with its alternatives.
        if (fetchable.size() > 1)
            for (const auto& url : fetchable) points_.erase(DistributionPoint{url});
        learned = points_.emplace(std::move(fetchable), delta).second || learned;
    }
    return learned;
}

std::vector<DistributionPoint> RevocationStore::distribution_points() const {
    const std::lock_guard lock(mutex_);
    std::vector<DistributionPoint> ordered;
    for (const bool deltas : {false, true})
        for (const auto& [point, delta] : points_)
            if (delta == deltas) ordered.push_back(point);
    return ordered;
}

bool within_grace(const X509_CRL* crl, std::chrono::milliseconds grace) {
    const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(grace).count();
    return crl && seconds > 0 && !past(X509_CRL_get0_nextUpdate(crl), std::time(nullptr) - seconds);
}

bool RevocationStore::within_grace(const X509_CRL* crl) const { return identity::within_grace(crl, grace_); }

bool RevocationStore::in_date(const X509_CRL* crl) const {
    const ASN1_TIME* next_update = X509_CRL_get0_nextUpdate(crl);
    return next_update != nullptr && (!past(next_update, std::time(nullptr)) || within_grace(crl));
}

std::vector<std::string> RevocationStore::expired_crls() const {
    std::vector<std::string> expired;
    const std::lock_guard lock(mutex_);
    for (const auto& crl : crls_) {
        if (!past(X509_CRL_get0_nextUpdate(crl.get()), std::time(nullptr))) continue;
        expired.push_back(describe_crl(crl.get()));
    }
    return expired;
}

std::vector<RevocationStore::Deadline> RevocationStore::crl_next_updates() const {
    std::vector<Deadline> out;
    const std::lock_guard lock(mutex_);
    for (const auto& crl : crls_) {
        if (const auto seconds = seconds_until(X509_CRL_get0_nextUpdate(crl.get())))
            out.push_back({name_text(X509_CRL_get_issuer(crl.get())), *seconds, is_delta_crl(crl.get())});
    }
    return out;
}

// The anchors never change: no lock.
std::vector<RevocationStore::Deadline> RevocationStore::anchor_expiries() const {
    std::vector<Deadline> out;
    for (const auto& anchor : anchors_) {
        if (const auto seconds = seconds_until(X509_get0_notAfter(anchor.get())))
            out.push_back({name_text(X509_get_subject_name(anchor.get())), *seconds});
    }
    return out;
}

void RevocationStore::rebuild_locked() {
    store_ = build_trust_store(anchors_, crls_, check_revocation_);
    std::int64_t hold_until = std::numeric_limits<std::int64_t>::max();
    if (check_revocation_) {
        const std::int64_t grace = std::chrono::duration_cast<std::chrono::seconds>(grace_).count();
        for (const auto& crl : crls_) {
            if (const auto left = seconds_until(X509_CRL_get0_nextUpdate(crl.get())))
                hold_until = std::min(hold_until, std::time(nullptr) + *left + grace);
        }
    }
    crls_hold_until_.store(hold_until, std::memory_order_release);
    generation_.fetch_add(1, std::memory_order_release);
}

}  // namespace easgate::identity
