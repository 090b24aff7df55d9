#include "easgate/listener/slot_counts.hpp"

namespace easgate::listener {

bool SlotCounts::take(const std::string& key, unsigned max) {
    std::lock_guard lock(mutex_);
    auto& open = open_[key];
    if (max > 0 && open >= max) return false;
    ++open;
    held_.fetch_add(1, std::memory_order_relaxed);
    return true;
}

void SlotCounts::give(const std::string& key) {
    std::lock_guard lock(mutex_);
    const auto found = open_.find(key);
    if (found == open_.end()) return;
    held_.fetch_sub(1, std::memory_order_relaxed);
    if (--found->second == 0) open_.erase(found);
}

}  // namespace easgate::listener
