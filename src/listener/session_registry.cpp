#include "easgate/listener/session_registry.hpp"

#include <vector>

namespace easgate::listener {

SessionRegistry::Entry SessionRegistry::add(std::weak_ptr<DrainableSession> session) {
    std::lock_guard lock(mutex_);
    return sessions_.insert(sessions_.end(), std::move(session));
}

void SessionRegistry::remove(Entry entry) {
    std::lock_guard lock(mutex_);
    sessions_.erase(entry);
}

std::size_t SessionRegistry::size() const {
    std::lock_guard lock(mutex_);
    return sessions_.size();
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
