#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "easgate/common/result.hpp"

namespace easgate::common {

// Requests the filter chain answered itself, counted by status and cause, for /metrics: how many
// devices were refused as disabled, locked out, denied by policy, or turned away while the KDC was
// unreachable. Causes are words from the code, never from a request, so the set stays small.
class FailureTally {
public:
    struct Count {
        unsigned status;
        std::string cause;
        std::uint64_t requests;
    };

    void count(const Failure& failure) {
        std::lock_guard lock(mutex_);
        ++counts_[{failure.status, failure.cause.empty() ? "other" : failure.cause}];
    }

    std::vector<Count> counts() const {
        std::lock_guard lock(mutex_);
        std::vector<Count> out;
        for (const auto& [key, requests] : counts_) out.push_back({key.first, key.second, requests});
        return out;
    }

private:
    mutable std::mutex mutex_;
    std::map<std::pair<unsigned, std::string>, std::uint64_t> counts_;
};

}  // namespace easgate::common
