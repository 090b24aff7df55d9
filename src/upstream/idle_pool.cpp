#include "easgate/upstream/idle_pool.hpp"

#include <memory>

namespace easgate::upstream {

IdleConnectionPool& IdleConnectionPool::for_this_thread(std::size_t max_idle,
                                                        std::chrono::milliseconds idle_timeout) {
    thread_local IdleConnectionPool pool(max_idle, idle_timeout);
    return pool;
}

std::optional<UpstreamConnection> IdleConnectionPool::take(const Upstream& upstream, const std::string& user,
                                                           std::optional<std::size_t> server) {
    const auto [first, last] = by_key_.equal_range(Key{&upstream, user});
    std::optional<List::iterator> newest;
    for (auto it = first; it != last; ++it) {
        if (server && it->second->connection.server() != *server) continue;
        if (!newest || it->second->since > (*newest)->since) newest = it->second;
    }
    if (!newest) return std::nullopt;
    const auto entry = *newest;
    const bool fresh = std::chrono::steady_clock::now() - entry->since < idle_timeout_;
    std::optional<UpstreamConnection> connection;
    if (fresh && entry->connection.reusable()) connection.emplace(std::move(entry->connection));
    erase(entry);
    return connection;
}

void IdleConnectionPool::give(const Upstream& upstream, const std::string& user,
                              UpstreamConnection connection) {
    if (max_idle_ == 0) return;  // closed as it goes out of scope
    const auto executor = connection.executor();
    idle_.push_back({&upstream, user, std::move(connection), std::chrono::steady_clock::now()});
    by_key_.emplace(Key{&upstream, idle_.back().user}, std::prev(idle_.end()));
    if (idle_.size() > max_idle_) erase(idle_.begin());
    schedule_sweep(executor);
}

void IdleConnectionPool::erase(List::iterator entry) {
    const auto [first, last] = by_key_.equal_range(Key{entry->upstream, entry->user});
    for (auto it = first; it != last; ++it) {
        if (it->second == entry) {
            by_key_.erase(it);
            break;
        }
    }
    entry->connection.close();
    idle_.erase(entry);
}

void IdleConnectionPool::sweep() {
    const auto now = std::chrono::steady_clock::now();
    while (!idle_.empty() && now - idle_.front().since >= idle_timeout_) erase(idle_.begin());
}

void IdleConnectionPool::schedule_sweep(const boost::asio::any_io_executor& executor) {
    if (sweep_pending_ || idle_.empty()) return;
    if (!sweeper_) sweeper_.emplace(executor);
    sweep_pending_ = true;
    sweeper_->expires_at(idle_.front().since + idle_timeout_);
    sweeper_->async_wait([this](const boost::system::error_code& ec) {
        sweep_pending_ = false;
        if (ec) return;
        sweep();
        if (!idle_.empty()) schedule_sweep(sweeper_->get_executor());
    });
}

}  // namespace easgate::upstream
