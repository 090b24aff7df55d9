#include "easgate/listener/session_registry.hpp"

#include <algorithm>
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

bool SessionRegistry::take_user_slot(const std::string& user, unsigned max) {
    if (per_user_.take(user, max)) return true;
    over_user_limit_.fetch_add(1, std::memory_order_relaxed);
    return false;
}

bool SessionRegistry::take_opening_slot(const std::string& source, unsigned max) {
    if (opening_.take(source, max)) return true;
    over_address_limit_.fetch_add(1, std::memory_order_relaxed);
    return false;
}

namespace {

std::size_t cause_index(std::string_view cause) {
    const auto* found = std::find(proxy_refusal_causes.begin(), proxy_refusal_causes.end(), cause);
    return static_cast<std::size_t>(found - proxy_refusal_causes.begin());
}

}  // namespace

void SessionRegistry::count_proxy_refusal(std::string_view cause) {
    if (const auto i = cause_index(cause); i < proxy_refused_.size())
        proxy_refused_[i].fetch_add(1, std::memory_order_relaxed);
}

std::uint64_t SessionRegistry::proxy_refusals(std::string_view cause) const {
    const auto i = cause_index(cause);
    return i < proxy_refused_.size() ? proxy_refused_[i].load(std::memory_order_relaxed) : 0;
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
