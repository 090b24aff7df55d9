#include "easgate/upstream/response_deadline.hpp"

#include <algorithm>

#include "easgate/config/units.hpp"
#include "easgate/eas/long_poll.hpp"

namespace easgate::upstream {

namespace {
// Exchange answers a long poll when its interval ends; this covers its own lateness and the network.
constexpr std::chrono::seconds long_poll_margin{60};
}  // namespace

ResponseDeadline response_deadline(const eas::EasRequest& request, std::span<const std::uint8_t> body,
                                   bool body_complete, const config::LimitsConfig& limits) {
    // Made only when returned: each names its origin in a string.
    const auto ordinary = [&] {
        return ResponseDeadline{limits.upstream_timeout, "limits.upstream_timeout"};
    };
    const auto longest = [&] { return ResponseDeadline{limits.max_long_poll, "limits.max_long_poll", true}; };
    const bool ping = request.command == "Ping";
    if (!ping && request.command != "Sync") return ordinary();
    if (body_complete && body.empty()) return longest();
    const auto interval = body_complete ? eas::long_poll_interval(request.command, body) : std::nullopt;
    if (!interval) {
        // A Ping is always held; a Sync without Wait or HeartbeatInterval is answered at once.
        return ping ? longest() : ordinary();
    }
    const std::chrono::milliseconds asked = *interval + long_poll_margin;
    if (asked >= limits.max_long_poll) return longest();
    const std::string origin = request.command + "'s interval of " + config::format_duration(*interval) +
                               " + " + config::format_duration(long_poll_margin);
    return {std::max(asked, limits.upstream_timeout), origin, true};
}

}  // namespace easgate::upstream
