#include "easgate/upstream/upstream.hpp"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/beast/core/string.hpp>
#include <functional>

#include "easgate/config/units.hpp"

namespace easgate::upstream {

namespace asio = boost::asio;

Upstream::Upstream(const config::UpstreamConfig& config, const std::string& key_prefix,
                   std::chrono::milliseconds rest)
    : config_(config),
      rest_(rest),
      tls_(asio::ssl::context::tls_client),
      health_(std::make_unique<ServerHealth[]>(config.servers.size())),
      tls_sessions_(std::make_unique<TlsSessionSlot[]>(config.servers.size())),
      addresses_(config.servers.size(), rest) {
    SSL_CTX* ctx = tls_.native_handle();
    // easgate keeps one session per server itself (OpenSSL's client cache has no key to look up by).
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
    SSL_CTX_sess_set_new_cb(ctx, &Upstream::keep_new_session);
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
    SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
    tls_.set_verify_mode(asio::ssl::verify_peer);
    if (config_.ca_file.empty()) {
        tls_.set_default_verify_paths();
    } else if (SSL_CTX_load_verify_locations(ctx, config_.ca_file.c_str(), nullptr) != 1) {
        ERR_clear_error();
        throw config::ConfigError(key_prefix + ".ca_file: " + config_.ca_file +
                                  ": holds no PEM CA certificate");
    }
}

namespace {

// Where a connection's session slot is kept; not SSL's app data, which asio's engine owns.
int session_slot_index() {
    static const int index = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
    return index;
}

}  // namespace

// OpenSSL hands over each new session (for TLS 1.3, when its ticket arrives after the handshake);
// the connection's slot, set by offer_tls_session, says which server gave it.
int Upstream::keep_new_session(SSL* ssl, SSL_SESSION* session) {
    auto* slot = static_cast<TlsSessionSlot*>(SSL_get_ex_data(ssl, session_slot_index()));
    if (slot == nullptr) return 0;
    std::lock_guard lock(slot->mutex);
    SSL_SESSION_free(slot->session);
    slot->session = session;
    return 1;  // the slot keeps OpenSSL's reference
}

void Upstream::offer_tls_session(SSL* ssl, std::size_t server) {
    TlsSessionSlot& slot = tls_sessions_[server];
    SSL_set_ex_data(ssl, session_slot_index(), &slot);
    std::lock_guard lock(slot.mutex);
    if (slot.session != nullptr) SSL_set_session(ssl, slot.session);
}

void Upstream::count_tls_handshake(bool resumed) {
    tls_handshakes_.fetch_add(1, std::memory_order_relaxed);
    if (resumed) tls_resumptions_.fetch_add(1, std::memory_order_relaxed);
}

bool Upstream::routes(std::string_view target) const {
    return std::any_of(config_.routes.begin(), config_.routes.end(), [&](const std::string& prefix) {
        return target.size() >= prefix.size() &&
               boost::beast::iequals(target.substr(0, prefix.size()), prefix);
    });
}

std::optional<std::size_t> Upstream::find_server(const config::UpstreamTarget& wanted) const {
    for (std::size_t i = 0; i < server_count(); ++i) {
        const auto& candidate = server(i);
        if (candidate.tls == wanted.tls && candidate.port == wanted.port &&
            boost::beast::iequals(candidate.host, wanted.host))
            return i;
    }
    return std::nullopt;
}

void Upstream::route_user_to(const std::string& user, std::size_t server) {
    std::lock_guard lock(routes_mutex_);
    routed_users_.store(user, server);
    any_routed_.store(true, std::memory_order_release);
}

std::optional<std::size_t> Upstream::routed_server(const std::string& user) {
    if (user.empty() || !any_routed_.load(std::memory_order_acquire)) return std::nullopt;
    std::lock_guard lock(routes_mutex_);
    const std::size_t* server = routed_users_.find(user);
    return server ? std::optional<std::size_t>(*server) : std::nullopt;
}

namespace {

std::int64_t milliseconds_of(std::chrono::steady_clock::time_point at) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(at.time_since_epoch()).count();
}

std::int64_t steady_now_ms() { return milliseconds_of(std::chrono::steady_clock::now()); }

}  // namespace

bool Upstream::usable(std::size_t index, std::int64_t now_ms) const {
    return health_[index].tried_until_ms.load(std::memory_order_relaxed) <= now_ms && ready(index, now_ms);
}

bool Upstream::ready(std::size_t index, std::int64_t now_ms) const {
    return health_[index].resting_until_ms.load(std::memory_order_relaxed) <= now_ms &&
           !health_[index].failed_check.load(std::memory_order_relaxed);
}

bool Upstream::serving(std::size_t index) const { return usable(index, steady_now_ms()); }

bool Upstream::any_server_usable() const {
    const auto now = steady_now_ms();
    for (std::size_t i = 0; i < server_count(); ++i)
        if (usable(i, now)) return true;
    return false;
}

bool Upstream::any_server_ready() const {
    const auto now = steady_now_ms();
    for (std::size_t i = 0; i < server_count(); ++i)
        if (ready(i, now)) return true;
    return false;
}

// Picked by fewest requests in flight, a server back from its rest would get every new connection
// (the others hold the Pings): were it still down, each would wait its connect timeout there. One
// request tries it, and holds it meanwhile (tried_until_ms: a rest's length, or its connect timeout
// and a second when longer, so that no second request tries it while the first still waits); its
// answer ends the hold, and a failure starts another rest.
bool Upstream::take_turn(std::size_t index, std::int64_t now_ms, std::chrono::milliseconds connect_timeout) {
    auto& health = health_[index];
    if (health.consecutive_failures.load(std::memory_order_relaxed) < max_consecutive_failures) return true;
    const auto hold = std::max(rest_, connect_timeout + std::chrono::seconds(1));
    std::int64_t until = health.tried_until_ms.load(std::memory_order_relaxed);
    return until <= now_ms && health.tried_until_ms.compare_exchange_strong(until, now_ms + hold.count(),
                                                                            std::memory_order_relaxed);
}

std::optional<Upstream::Pick> Upstream::pick_server(const std::vector<bool>& tried, const std::string& user,
                                                    bool resting_tried,
                                                    std::chrono::milliseconds connect_timeout) {
    const auto now = steady_now_ms();
    // A resting mailbox server is passed over like any other: another one proxies to the mailbox.
    if (const auto mailbox = routed_server(user);
        mailbox && !tried[*mailbox] && usable(*mailbox, now) && take_turn(*mailbox, now, connect_timeout))
        return Pick{*mailbox};
    const std::size_t count = server_count();
    const std::size_t start = next_.fetch_add(1, std::memory_order_relaxed);
    std::optional<std::size_t> best;
    std::optional<std::size_t> resting;
    for (std::size_t i = 0; i < count; ++i) {
        const std::size_t index = (start + i) % count;
        if (tried[index]) continue;
        if (!usable(index, now)) {
            if (!resting) resting = index;
            continue;
        }
        if (health_[index].consecutive_failures.load(std::memory_order_relaxed) >= max_consecutive_failures) {
            if (take_turn(index, now, connect_timeout))
                return Pick{index};  // the one request that tries it after its rest
            if (!resting) resting = index;
            continue;
        }
        if (!best || health_[index].outstanding.load(std::memory_order_relaxed) <
                         health_[*best].outstanding.load(std::memory_order_relaxed))
            best = index;
    }
    if (best) return Pick{*best};
    // Every untried server is resting: trying one beats refusing the device, but one is enough (each
    // may take the whole connect timeout).
    if (resting && !resting_tried) return Pick{*resting, true};
    return std::nullopt;
}

void Upstream::record_success(std::size_t index, std::chrono::steady_clock::time_point sent_at) {
    // Said of every answer: no write to the line every thread reads unless a failure was counted.
    if (health_[index].consecutive_failures.load(std::memory_order_relaxed) == 0) return;
    // Relaxed: another thread's failure may be seen counted before its time is. A stale success let
    // through then ends one rest early, which the next failure starts again: accepted for a heuristic.
    if (milliseconds_of(sent_at) < health_[index].last_failure_ms.load(std::memory_order_relaxed)) return;
    health_[index].last_failing_user.store(0, std::memory_order_relaxed);
    if (health_[index].consecutive_failures.exchange(0, std::memory_order_relaxed) >=
        max_consecutive_failures)
        spdlog::info("upstream {}: server {} answers again", name(), server(index).url);
    health_[index].resting_until_ms.store(0, std::memory_order_relaxed);
    health_[index].tried_until_ms.store(0, std::memory_order_relaxed);
}

void Upstream::record_health_check(std::size_t index, bool passed, const std::string& detail) {
    const bool failed_before = health_[index].failed_check.exchange(!passed, std::memory_order_relaxed);
    if (failed_before && passed) {
        spdlog::info("upstream {}: server {} passes its health check again", name(), server(index).url);
    } else if (!failed_before && !passed) {
        spdlog::warn("upstream {}: server {} failed its health check ({}): left out until it passes", name(),
                     server(index).url, detail);
    }
}

void Upstream::record_failure(std::size_t index, const std::string& reason, std::string_view user) {
    const std::size_t who = user.empty() ? 0 : std::hash<std::string_view>{}(user) | 1;
    if (health_[index].last_failing_user.exchange(who, std::memory_order_relaxed) == who && who != 0) return;
    const auto now = std::chrono::steady_clock::now();
    health_[index].last_failure_ms.store(milliseconds_of(now), std::memory_order_relaxed);
    const unsigned failures = health_[index].consecutive_failures.fetch_add(1, std::memory_order_relaxed) + 1;
    if (failures < max_consecutive_failures) return;
    health_[index].resting_until_ms.store(milliseconds_of(now + rest_), std::memory_order_relaxed);
    health_[index].tried_until_ms.store(0, std::memory_order_relaxed);  // the try ended: a rest instead
    if (failures == max_consecutive_failures) {
        spdlog::warn("upstream {}: server {} left out for {} after {} failures in a row; the last: {}",
                     name(), server(index).url, config::format_duration(rest_), failures, reason);
    }
}

}  // namespace easgate::upstream
