#include "easgate/listener/session_registry.hpp"

#include <vector>

namespace easgate::listener {

SessionRegistry::Entry SessionRegistry::add(std::weak_ptr<DrainableSession> session) {
    std::lock_guard lock(mutex_);
    open_.fetch_add(1, std::memory_order_relaxed);
    return sessions_.insert(sessions_.end(), std::move(session));
}

void SessionRegistry::remove(Entry entry) {
    std::lock_guard lock(mutex_);
    open_.fetch_sub(1, std::memory_order_relaxed);
    sessions_.erase(entry);
}

void SessionRegistry::drain_all() {
    draining_.store(true, std::memory_order_release);
    std::vector<std::shared_ptr<DrainableSession>> live;
    {
        std::lock_guard lock(mutex_);
        for (const auto& session : sessions_)
            if (auto alive = session.lock()) live.push_back(std::move(alive));
    }
    for (const auto& session : live) session->drain();  // outside the lock: it may end and remove itself
}

}  // namespace easgate::listener
