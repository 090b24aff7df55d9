#include "result_cache.hpp"

#include <algorithm>
#include <iterator>

namespace easgate::directory {

std::optional<LookupResult> ResultCache::find(const std::string& key) {
    std::lock_guard lock(mutex_);
    const auto it = entries_.find(key);
    if (it == entries_.end()) return std::nullopt;
    if (it->second.expires <= Clock::now()) {
        entries_.erase(it);
        return std::nullopt;
    }
    return it->second.result;
}

void ResultCache::store(const std::string& key, const LookupResult& result, std::chrono::milliseconds ttl) {
    if (ttl <= std::chrono::milliseconds::zero()) return;
    const auto now = Clock::now();
    std::lock_guard lock(mutex_);
    if (!entries_.contains(key)) make_room(now);
    entries_.insert_or_assign(key, Entry{result, now + ttl});
}

void ResultCache::make_room(Clock::time_point now) {
    if (entries_.size() < max_entries) return;
    std::erase_if(entries_, [now](const auto& entry) { return entry.second.expires <= now; });
    if (entries_.size() < max_entries) return;
    entries_.erase(std::min_element(entries_.begin(), entries_.end(), [](const auto& a, const auto& b) {
        return a.second.expires < b.second.expires;
    }));
}

}  // namespace easgate::directory
