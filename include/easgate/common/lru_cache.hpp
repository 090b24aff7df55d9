#pragma once

#include <cstddef>
#include <list>
#include <string>
#include <unordered_map>
#include <utility>

namespace easgate::common {

// A map bounded to `capacity` entries that forgets the least recently used one first. Not
// thread-safe: its owner locks.
template <typename Value>
class LruCache {
public:
    explicit LruCache(std::size_t capacity) : capacity_(capacity) {}

    // The value for key (marked as just used), or nullptr.
    Value* find(const std::string& key) {
        const auto it = index_.find(key);
        if (it == index_.end()) return nullptr;
        recency_.splice(recency_.begin(), recency_, it->second);
        return &it->second->second;
    }

    void store(const std::string& key, Value value) {
        if (Value* existing = find(key)) {
            *existing = std::move(value);
            return;
        }
        recency_.emplace_front(key, std::move(value));
        index_.emplace(key, recency_.begin());
        if (recency_.size() > capacity_) {
            index_.erase(recency_.back().first);
            recency_.pop_back();
        }
    }

    void erase(const std::string& key) {
        const auto it = index_.find(key);
        if (it == index_.end()) return;
        recency_.erase(it->second);
        index_.erase(it);
    }

    void clear() {
        index_.clear();
        recency_.clear();
    }

    std::size_t size() const { return recency_.size(); }

private:
    std::size_t capacity_;
    std::list<std::pair<std::string, Value>> recency_;  // most recently used first
    std::unordered_map<std::string, typename std::list<std::pair<std::string, Value>>::iterator> index_;
};

}  // namespace easgate::common
