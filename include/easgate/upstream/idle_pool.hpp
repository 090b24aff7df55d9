#pragma once

#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <list>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "easgate/upstream/upstream.hpp"

namespace easgate::upstream {

// Idle upstream connections of one worker thread, kept per (upstream, user): IIS keeps Kerberos
// authentication per connection (authPersistNonNTLM), so a connection that carried alice's
// credentials is only ever used for alice again. A phone that reconnects (roaming, a new Ping
// connection) then skips the TCP and TLS handshakes to Exchange. Bounded in count (the oldest goes
// first) and in idle time (a timer closes what waited too long, releasing its buffers). Not
// thread-safe: connections belong to the thread's event loop, so each worker has its own pool. An
// entry holds its Upstream: a reload that replaced it must neither free what a pooled connection
// points into (its server's settings) nor let a new Upstream made at the same address take it.
class IdleConnectionPool {
public:
    IdleConnectionPool(std::size_t max_idle, std::chrono::milliseconds idle_timeout)
        : max_idle_(max_idle), idle_timeout_(idle_timeout) {}
    IdleConnectionPool(const IdleConnectionPool&) = delete;
    IdleConnectionPool& operator=(const IdleConnectionPool&) = delete;

    // The bounds of every worker's pool from now on: set at start and by each reload, not by the
    // sessions (one begun before a reload holds the limits it began with).
    static void configure(std::size_t max_idle, std::chrono::milliseconds idle_timeout);
    // The worker thread's pool, with the bounds configured last.
    static IdleConnectionPool& for_this_thread();

    // The most recently idle connection of user on upstream that is still open, to a server it may
    // go on using (Upstream::may_reuse), to `server` only when given; nullopt when there is none.
    std::optional<UpstreamConnection> take(const Upstream& upstream, const std::string& user,
                                           std::optional<std::size_t> server = std::nullopt);
    // Keeps an open, kept-alive connection that carried user's requests.
    void give(std::shared_ptr<const Upstream> upstream, const std::string& user,
              UpstreamConnection connection);

private:
    struct Idle {
        std::shared_ptr<const Upstream> upstream;
        std::string user;
        UpstreamConnection connection;
        std::chrono::steady_clock::time_point since;
    };
    using List = std::list<Idle>;
    // Views into an entry of idle_ (list nodes stay put), so a lookup builds no string.
    struct Key {
        const Upstream* upstream;
        std::string_view user;
        bool operator==(const Key&) const = default;
    };
    struct KeyHash {
        std::size_t operator()(const Key& key) const noexcept {
            return std::hash<const void*>{}(key.upstream) ^ std::hash<std::string_view>{}(key.user);
        }
    };

    void erase(List::iterator entry);
    void sweep();
    void schedule_sweep(const boost::asio::any_io_executor& executor);

    using Index = std::unordered_multimap<Key, List::iterator, KeyHash>;

    std::size_t max_idle_;
    std::chrono::milliseconds idle_timeout_;
    List idle_;  // oldest first
    Index by_key_;
    // The nodes of entries taken or dropped, for the next give(): a connection going back and forth
    // with every request (the plain-forward path) allocates nothing. At most as many as were idle at
    // once, released when a sweep leaves the pool empty.
    List spare_;
    std::vector<Index::node_type> spare_keys_;
    std::optional<boost::asio::steady_timer> sweeper_;
    bool sweep_pending_ = false;
};

}  // namespace easgate::upstream
