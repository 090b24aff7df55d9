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
    std::lock_guard lock(users_mutex_);
    auto& open = per_user_[user];
    if (max > 0 && open >= max) {
        if (open == 0) per_user_.erase(user);
        over_user_limit_.fetch_add(1, std::memory_order_relaxed);
        return false;
    }
    ++open;
    return true;
}

void SessionRegistry::give_user_slot(const std::string& user) {
    std::lock_guard lock(users_mutex_);
    const auto found = per_user_.find(user);
    if (found != per_user_.end() && --found->second == 0) per_user_.erase(found);
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
