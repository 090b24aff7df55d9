#pragma once

#include <chrono>
#include <cstddef>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

#include "easgate/directory/directory_client.hpp"

namespace easgate::directory {

// Lookup results by (lower-cased) UPN until they expire. Thread-safe. Bounded: at most max_entries;
// when full, expired entries go first, then the one closest to expiry.
class ResultCache {
public:
    using Clock = std::chrono::steady_clock;
    // ~10-20 MB with typical memberOf lists; more users than this active within one cache_ttl
    // only means more searches.
    static constexpr std::size_t max_entries = 10'000;

    std::optional<LookupResult> find(const std::string& key);
    void store(const std::string& key, const LookupResult& result, std::chrono::milliseconds ttl);

private:
    struct Entry {
        LookupResult result;
        Clock::time_point expires;
    };

    void make_room(Clock::time_point now);

    std::mutex mutex_;
    std::unordered_map<std::string, Entry> entries_;
};

}  // namespace easgate::directory
