#include "easgate/listener/session_registry.hpp"

#include <algorithm>
#include <iterator>
#include <vector>

namespace easgate::listener {

SessionRegistry::Entry SessionRegistry::add(std::weak_ptr<DrainableSession> session, Clock::time_point now) {
    std::lock_guard lock(mutex_);
    open_.fetch_add(1, std::memory_order_relaxed);
    return idle_.insert(idle_.end(), Registered{std::move(session), now});
}

void SessionRegistry::remove(Entry entry) {
    std::lock_guard lock(mutex_);
    open_.fetch_sub(1, std::memory_order_relaxed);
    (entry->idle ? idle_ : busy_).erase(entry);
}

void SessionRegistry::mark_idle(Entry entry, Clock::time_point now) {
    std::lock_guard lock(mutex_);
    if (entry->idle || entry->reclaimed) return;
    entry->idle = true;
    entry->idle_since = now;
    idle_.splice(idle_.end(), busy_, entry);
}

bool SessionRegistry::mark_busy(Entry entry) {
    std::lock_guard lock(mutex_);
    if (entry->reclaimed) return false;
    if (entry->idle) {
        entry->idle = false;
        busy_.splice(busy_.end(), idle_, entry);
    }
    return true;
}

SessionRegistry::Reclaimed SessionRegistry::reclaim_oldest(Clock::time_point now) {
    std::lock_guard lock(mutex_);
    for (auto entry = idle_.begin(); entry != idle_.end() && now - entry->idle_since >= reclaim_after;) {
        auto session = entry->session.lock();
        const auto next = std::next(entry);
        if (session) {  // else its destructor is on its way to remove()
            entry->idle = false;
            entry->reclaimed = true;
            busy_.splice(busy_.end(), idle_, entry);
            reclaimed_.fetch_add(1, std::memory_order_relaxed);
            return {std::move(session), now - entry->idle_since};
        }
        entry = next;
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
        for (const auto* list : {&idle_, &busy_})
            for (const auto& registered : *list)
                if (auto alive = registered.session.lock()) live.push_back(std::move(alive));
    }
    for (const auto& session : live) session->drain();  // outside the lock: it may end and remove itself
}

}  // namespace easgate::listener
