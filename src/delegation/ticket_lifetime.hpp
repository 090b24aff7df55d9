#pragma once

#include <gssapi/gssapi.h>

#include <algorithm>
#include <chrono>

namespace easgate::delegation {

using Clock = std::chrono::steady_clock;

// When to replace a ticket GSSAPI says is valid for `lifetime` seconds from now: refresh_before
// ahead of its end, but not before half its life, so a KDC issuing short tickets doesn't get asked
// on every request.
inline Clock::time_point refresh_due(Clock::time_point now, OM_uint32 lifetime,
                                     std::chrono::milliseconds refresh_before) {
    const std::chrono::milliseconds valid = std::chrono::seconds(lifetime);
    return now + std::max(valid - refresh_before, valid / 2);
}

}  // namespace easgate::delegation
