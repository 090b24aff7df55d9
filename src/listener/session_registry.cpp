#include "easgate/listener/session_registry.hpp"

#include <algorithm>
#include <iterator>
#include <vector>

namespace easgate::listener {

SessionRegistry::Entry SessionRegistry::add(std::weak_ptr<DrainableSession> session, Clock::time_point now) {
    std::lock_guard lock(mutex_);
    open_.fetch_add(1, std::memory_order_relaxed);
    auto& opening = by_use_[static_cast<std::size_t>(Use::opening)];
    return opening.insert(opening.end(), Registered{std::move(session), now});
}

void SessionRegistry::remove(Entry entry) {
    std::lock_guard lock(mutex_);
    open_.fetch_sub(1, std::memory_order_relaxed);
    by_use_[static_cast<std::size_t>(entry->use)].erase(entry);
}

void SessionRegistry::move_to(Entry entry, Use use) {
    auto& to = by_use_[static_cast<std::size_t>(use)];
    to.splice(to.end(), by_use_[static_cast<std::size_t>(entry->use)], entry);
    entry->use = use;
}

void SessionRegistry::mark_idle(Entry entry, Clock::time_point now) {
    std::lock_guard lock(mutex_);
    if (entry->use != Use::busy || entry->reclaimed) return;
    entry->idle_since = now;
    move_to(entry, Use::kept_alive);
}

bool SessionRegistry::mark_busy(Entry entry) {
    std::lock_guard lock(mutex_);
    if (entry->reclaimed) return false;
    if (entry->use != Use::busy) move_to(entry, Use::busy);
    return true;
}

SessionRegistry::Reclaimed SessionRegistry::reclaim_oldest(Clock::time_point now) {
    std::lock_guard lock(mutex_);
    for (const Use use : {Use::opening, Use::kept_alive}) {
        auto& idle = by_use_[static_cast<std::size_t>(use)];
        for (auto entry = idle.begin(); entry != idle.end() && now - entry->idle_since >= reclaim_after;) {
            auto session = entry->session.lock();
            const auto next = std::next(entry);
            if (session) {  // else its destructor is on its way to remove()
                entry->reclaimed = true;
                move_to(entry, Use::busy);
                reclaimed_.fetch_add(1, std::memory_order_relaxed);
                return {std::move(session), now - entry->idle_since};
            }
            entry = next;
        }
    }
    return {};
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

void SessionRegistry::drain_all() {
    draining_.store(true, std::memory_order_release);
    std::vector<std::shared_ptr<DrainableSession>> live;
    {
        std::lock_guard lock(mutex_);
        for (const auto& list : by_use_)
            for (const auto& registered : list)
                if (auto alive = registered.session.lock()) live.push_back(std::move(alive));
    }
    for (const auto& session : live) session->drain();  // outside the lock: it may end and remove itself
}

}  // namespace easgate::listener
