#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace easgate::config {

// "10MiB", "32KiB", "1GiB" or a plain byte count; nullopt when the text is not a size.
std::optional<std::uint64_t> parse_size(std::string_view text);

// "15s", "250ms", "5m", "1h"; a unit is required so "60" can't be read as the wrong one.
std::optional<std::chrono::milliseconds> parse_duration(std::string_view text);

// The shortest exact spelling: 10485760 -> "10MiB", 15000ms -> "15s".
std::string format_size(std::uint64_t bytes);
std::string format_duration(std::chrono::milliseconds duration);

}  // namespace easgate::config
