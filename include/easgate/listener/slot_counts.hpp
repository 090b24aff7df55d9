#pragma once

#include <atomic>
#include <cstddef>
#include <mutex>
#include <string>
#include <unordered_map>

namespace easgate::listener {

// How many connections each key (a user, a source address) holds, each key up to a limit, from
// any thread.
class SlotCounts {
public:
    // False when key holds max already (0: no limit, but counted all the same, so that a reload
    // setting one finds the connections open).
    bool take(const std::string& key, unsigned max);
    void give(const std::string& key);
    // Slots held, over all keys.
    std::size_t held() const { return held_.load(std::memory_order_relaxed); }

private:
    std::mutex mutex_;
    std::unordered_map<std::string, unsigned> open_;
    std::atomic<std::size_t> held_{0};
};

}  // namespace easgate::listener
