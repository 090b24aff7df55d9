#include "easgate/listener/request_metrics.hpp"

#include <algorithm>

#include "easgate/eas/eas_request.hpp"

namespace easgate::listener {

RequestMetrics::RequestMetrics()
    : commands_(eas::command_labels().size()),
      counts_(std::make_unique<std::atomic<std::uint64_t>[]>(commands_ * statuses)) {}

void RequestMetrics::count(std::string_view command, unsigned status, bool held_long_poll,
                           std::chrono::steady_clock::duration elapsed) {
    if (!held_long_poll) durations_.observe(elapsed);
    const auto labels = eas::command_labels();
    const auto found = std::find(labels.begin(), labels.end(), command);
    if (found == labels.end() || status < first_status || status >= first_status + statuses) return;
    const auto row = static_cast<std::size_t>(found - labels.begin());
    counts_[row * statuses + (status - first_status)].fetch_add(1, std::memory_order_relaxed);
}

std::vector<RequestMetrics::Count> RequestMetrics::counts() const {
    std::vector<Count> out;
    const auto labels = eas::command_labels();
    for (std::size_t row = 0; row < commands_; ++row) {
        for (unsigned column = 0; column < statuses; ++column) {
            const auto requests = counts_[row * statuses + column].load(std::memory_order_relaxed);
            if (requests != 0) out.push_back({labels[row], first_status + column, requests});
        }
    }
    return out;
}

}  // namespace easgate::listener
