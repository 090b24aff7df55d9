#include "easgate/identity/crl_refresher.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <utility>

#include "easgate/common/spawn_handlers.hpp"
#include "easgate/common/use_nothrow.hpp"
#include "easgate/config/units.hpp"
#include "easgate/identity/crl_fetch.hpp"

namespace easgate::identity {

namespace asio = boost::asio;

CrlRefresher::CrlRefresher(const asio::any_io_executor& executor, std::shared_ptr<RevocationStore> store,
                           const config::CrlRefresh& settings, std::shared_ptr<CrlRefreshCounters> counters,
                           DirectoryCrlReader directory, asio::any_io_executor slow_work)
    : store_(std::move(store)),
      settings_(settings),
      counters_(std::move(counters)),
      directory_(std::move(directory)),
      slow_work_(std::move(slow_work)),
      pause_(executor),
      cache_(settings_.cache_dir, settings_.max_crl_bytes) {}

void CrlRefresher::start(const std::set<std::string>& still_failing) {
    failing_ = still_failing;
    counters_->failing += failing_.size();
    store_->on_new_distribution_point([weak = weak_from_this()] {
        const auto self = weak.lock();
        if (!self) return;
        self->pending_ = true;
        asio::post(self->pause_.get_executor(), [self] { self->pause_.cancel(); });
    });
    store_->learn_from_anchors();
    if (store_->first_cache_load()) load_cache();
    asio::co_spawn(pause_.get_executor(), run(shared_from_this()), common::LogFailure{"CRL refresh"});
}

// The gauge of failing points is shared across reloads: a stopped refresher's share leaves it, or
// each reload during an outage would add one and the alert would never clear.
std::set<std::string> CrlRefresher::stop() {
    stopped_ = true;
    counters_->failing -= failing_.size();
    pause_.cancel();
    return std::exchange(failing_, {});
}

// self: the loop keeps its refresher alive until stopped or the event loop ends.
asio::awaitable<void> CrlRefresher::run([[maybe_unused]] std::shared_ptr<CrlRefresher> self) {
    while (!stopped_) {
        pending_ = false;
        for (const auto& point : store_->distribution_points()) {
            if (stopped_) co_return;
            co_await refresh(point);
        }
        if (stopped_) co_return;
        warn_about_expired_crls();
        if (pending_) continue;
        pause_.expires_after(settings_.interval);
        co_await pause_.async_wait(common::use_nothrow);  // cancelled: a new URL
    }
}

// The point's locations in its order until one gives a usable CRL: they are alternatives (RFC 5280
// 4.2.1.13), so a web server the gateway can't reach costs nothing while the directory serves it.
asio::awaitable<void> CrlRefresher::refresh(const DistributionPoint& point) {
    std::string failures;
    for (const auto& url : point) {
        if (unreadable_.count(url) > 0) continue;
        if (!directory_ && directory_crl_url(url)) {
            if (unreadable_.insert(url).second)
                spdlog::info(
                    "CRL distribution point {} skipped: it is read from the directory, and there is "
                    "no directory section",
                    url);
            continue;
        }
        ++counters_->fetches;
        auto fetched = co_await fetch_crl_from(url, settings_, directory_);
        if (fetched.unusable) {
            if (unreadable_.insert(url).second)
                spdlog::info("CRL distribution point skipped: {}", fetched.error);
            continue;
        }
        std::string why = fetched.error;  // not "?: co_await": GCC 12 builds that wrong
        if (why.empty()) why = co_await install_on_slow_work(url, std::move(fetched.body));
        if (stopped_) co_return;  // stopped meanwhile: the gauge is the next refresher's
        if (why.empty()) {
            if (!failures.empty()) spdlog::info("CRL refresh from {}; {} served the CRL", failures, url);
            if (failing_.erase(point.front()) > 0) {
                --counters_->failing;
                spdlog::info("CRL refresh from {} works again", url);
            }
            co_return;
        }
        failures += (failures.empty() ? "" : "; from ") + url + " failed: " + why;
    }
    if (!failures.empty() && !stopped_) record_failure(point.front(), failures);
}

// The refresh loop waits meanwhile, so install() never runs twice at once; the refresher is kept
// alive by the job, which the daemon's slow_work pool finishes before the loop's thread ends.
asio::awaitable<std::string> CrlRefresher::install_on_slow_work(std::string url, std::string body) {
    if (!slow_work_) co_return install(url, body);
    // Named, not temporaries of the co_await: GCC 12 destroys those twice.
    auto job = [self = shared_from_this(), url = std::move(url),
                body = std::move(body)]() -> asio::awaitable<std::string> {
        co_return self->install(url, body);
    };
    auto installed = asio::co_spawn(slow_work_, std::move(job), asio::use_awaitable);
    co_return co_await std::move(installed);
}

std::string CrlRefresher::install(const std::string& url, const std::string& body) {
    const auto offered = offer_crls(*store_, body);
    for (const auto& described : offered.installed) {
        ++counters_->updates;
        spdlog::info("CRL refresh: {} from {} is in use", described, url);
    }
    // Kept when a newer CRL came in, or when the cache held nothing (usable) from this URL.
    if (offered.error.empty() && (cached_.insert(url).second || !offered.installed.empty()))
        cache_.save(url, body);
    // Taken if newer than what easgate held, but no answer: the point's next location may have the
    // CA's current CRL (an old copy at one location, a replayed one on the way, a CA that stopped
    // publishing there), and if none has, the point is failing.
    if (offered.error.empty() && offered.past_next_update)
        return "it serves only CRLs past their nextUpdate (the CA's current one is not there)";
    return offered.error;
}

// A delta CRL is taken only with its base: with an older base in crl_files and the cache holding a
// newer base and its delta, the delta may come first. What was left out is offered again once the
// rest is in; before, that delta stayed out, and with the distribution points down every device
// of that CA was refused ("unable to get delta CRL").
void CrlRefresher::load_cache() {
    std::vector<CrlCache::Entry> left_out;
    for (auto& entry : cache_.load())
        if (!take_cached(entry, false)) left_out.push_back(std::move(entry));
    for (const auto& entry : left_out) take_cached(entry, true);
}

bool CrlRefresher::take_cached(const CrlCache::Entry& entry, bool last_try) {
    const auto offered = offer_crls(*store_, entry.body);
    if (!offered.error.empty()) {
        if (last_try)
            spdlog::info("CRL cache: what was kept from {} is left out: {}", entry.url, offered.error);
        return false;
    }
    store_->remember_distribution_point(entry.url, offered.deltas);
    cached_.insert(entry.url);
    for (const auto& described : offered.installed)
        spdlog::info("CRL cache: {} kept from {} is in use until fetched again", described, entry.url);
    return true;
}

OfferedCrls offer_crls(RevocationStore& store, const std::string& body) {
    OfferedCrls offered;
    auto crls = parse_crls(body);
    if (crls.empty()) offered.error = "the answer is no CRL (PEM or DER)";
    offered.past_next_update = !crls.empty();
    offered.deltas = !crls.empty();
    for (auto& crl : crls) {
        std::string described = describe_crl(crl.get());
        const auto left = seconds_until(X509_CRL_get0_nextUpdate(crl.get()));
        offered.past_next_update = offered.past_next_update && left && *left < 0;
        offered.deltas = offered.deltas && is_delta_crl(crl.get());
        switch (store.offer(std::move(crl))) {
            case RevocationStore::Offer::installed:
                offered.installed.push_back(std::move(described));
                break;
            case RevocationStore::Offer::not_newer:
                offered.held.push_back(std::move(described));
                break;
            case RevocationStore::Offer::for_unheld_base:
                offered.error = "the " + described +
                                " was published for a newer base CRL than easgate holds: the delta CRL held "
                                "stays in use until that base is fetched";
                return offered;
            case RevocationStore::Offer::unknown_issuer:
                offered.error =
                    "the " + described + " is from a CA that is not in client_auth.trusted_ca_file";
                return offered;
            case RevocationStore::Offer::bad_signature:
                offered.error =
                    "the " + described + " is not signed by the CA of that name in trusted_ca_file";
                return offered;
        }
    }
    return offered;
}

void CrlRefresher::record_failure(const std::string& point, const std::string& failures) {
    ++counters_->failures;
    if (failing_.insert(point).second) ++counters_->failing;
    spdlog::warn(
        "CRL refresh from {}; the last good CRL stays in use until its nextUpdate (plus "
        "client_auth.crl_refresh.grace {}); next try in {}",
        failures, config::format_duration(settings_.grace), config::format_duration(settings_.interval));
}

void CrlRefresher::warn_about_expired_crls() const {
    for (const auto& crl : store_->expired_crls()) {
        spdlog::warn(
            "{} is past its nextUpdate and no newer one could be fetched: once client_auth.crl_refresh.grace "
            "({}) has passed too, devices it covers are refused; check the CA publishes its CRL at its CDP",
            crl, config::format_duration(settings_.grace));
    }
}

}  // namespace easgate::identity
