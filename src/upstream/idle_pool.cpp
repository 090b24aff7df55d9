#include "easgate/upstream/idle_pool.hpp"

#include <atomic>
#include <memory>

namespace easgate::upstream {

namespace {

std::atomic<std::size_t> configured_max_idle{config::LimitsConfig{}.max_idle_upstream_connections};
std::atomic<std::chrono::milliseconds> configured_idle_timeout{config::LimitsConfig{}.upstream_idle_timeout};

}  // namespace

void IdleConnectionPool::configure(std::size_t max_idle, std::chrono::milliseconds idle_timeout) {
    configured_max_idle.store(max_idle, std::memory_order_relaxed);
    configured_idle_timeout.store(idle_timeout, std::memory_order_relaxed);
}

IdleConnectionPool& IdleConnectionPool::for_this_thread() {
    thread_local IdleConnectionPool pool(configured_max_idle.load(std::memory_order_relaxed),
                                         configured_idle_timeout.load(std::memory_order_relaxed));
    pool.max_idle_ = configured_max_idle.load(std::memory_order_relaxed);
    pool.idle_timeout_ = configured_idle_timeout.load(std::memory_order_relaxed);
    return pool;
}

std::optional<UpstreamConnection> IdleConnectionPool::take(const Upstream& upstream, const std::string& user,
                                                           std::optional<std::size_t> server) {
    const auto [first, last] = by_key_.equal_range(Key{&upstream, user});
    std::optional<List::iterator> newest;
    for (auto it = first; it != last; ++it) {
        const std::size_t to = it->second->connection.server();
        // One to a server resting after failures or failing its health check (drained for
        // maintenance, say) waits for the sweep while other servers serve.
        if ((server && to != *server) || !upstream.may_reuse(to)) continue;
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

void IdleConnectionPool::give(std::shared_ptr<const Upstream> upstream, const std::string& user,
                              UpstreamConnection connection) {
    if (max_idle_ == 0) {  // none kept, nor those pooled before a reload set it
        while (!idle_.empty()) erase(idle_.begin());
        spare_.clear();  // no sweep comes to free them
        spare_keys_.clear();
        return;  // connection closes as it goes out of scope
    }
    const auto executor = connection.executor();
    if (spare_.empty()) {
        idle_.push_back({std::move(upstream), user, std::move(connection), {}});
    } else {
        idle_.splice(idle_.end(), spare_, spare_.begin());
        auto& entry = idle_.back();
        entry.upstream = std::move(upstream);
        entry.user = user;  // within the capacity the node's last user left, as a rule
        entry.connection = std::move(connection);
    }
    const auto entry = std::prev(idle_.end());
    entry->since = std::chrono::steady_clock::now();
    const Key key{entry->upstream.get(), entry->user};
    if (spare_keys_.empty()) {
        by_key_.emplace(key, entry);
    } else {
        auto node = std::move(spare_keys_.back());
        spare_keys_.pop_back();
        node.key() = key;
        node.mapped() = entry;
        by_key_.insert(std::move(node));
    }
    while (idle_.size() > max_idle_) erase(idle_.begin());  // the oldest go first
    schedule_sweep(executor);
}

void IdleConnectionPool::erase(List::iterator entry) {
    const auto [first, last] = by_key_.equal_range(Key{entry->upstream.get(), entry->user});
    for (auto it = first; it != last; ++it) {
        if (it->second == entry) {
            spare_keys_.push_back(by_key_.extract(it));
            break;
        }
    }
    entry->connection.close();
    entry->upstream.reset();  // a spare node holds no Upstream alive
    spare_.splice(spare_.end(), idle_, entry);
}

void IdleConnectionPool::sweep() {
    const auto now = std::chrono::steady_clock::now();
    while (!idle_.empty() && now - idle_.front().since >= idle_timeout_) erase(idle_.begin());
    if (idle_.empty()) {
        spare_.clear();
        spare_keys_.clear();
    }
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
