#pragma once

#include <chrono>
#include <cstdint>
#include <span>
#include <string>

#include "easgate/config/config.hpp"
#include "easgate/eas/eas_request.hpp"

namespace easgate::upstream {

// How long easgate waits for Exchange's answer to one request, and where that figure came from
// (for the 504 reason in the log).
struct ResponseDeadline {
    std::chrono::milliseconds timeout;
    std::string origin;
    bool long_poll = false;  // Exchange may hold it: watch whether the device is still there
};

// Exchange holds a Ping, and a Sync with Wait or HeartbeatInterval, for the interval the device
// asked for: wait that long plus a margin, at most limits.max_long_poll. A Ping or Sync without a
// body reuses the interval Exchange cached from an earlier one, which easgate cannot see, so it may
// be held as long as limits.max_long_poll. Everything else gets limits.upstream_timeout.
// body is the read-ahead; body_complete is false when the rest of the body was streamed.
ResponseDeadline response_deadline(const eas::EasRequest& request, std::span<const std::uint8_t> body,
                                   bool body_complete, const config::LimitsConfig& limits);

}  // namespace easgate::upstream
