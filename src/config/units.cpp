#include "easgate/config/units.hpp"

#include <array>
#include <charconv>
#include <limits>
#include <utility>

namespace easgate::config {
namespace {

template <std::size_t N>
using UnitTable = std::array<std::pair<std::string_view, std::uint64_t>, N>;

constexpr UnitTable<4> size_units{{{"GiB", 1ULL << 30}, {"MiB", 1ULL << 20}, {"KiB", 1ULL << 10}, {"", 1}}};
constexpr UnitTable<4> duration_units{{{"h", 3'600'000}, {"m", 60'000}, {"s", 1'000}, {"ms", 1}}};

// Splits "<digits><unit>" and multiplies by the unit's factor, refusing overflow.
template <std::size_t N>
std::optional<std::uint64_t> parse_with_units(std::string_view text, const UnitTable<N>& units) {
    std::uint64_t value = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc{} || end == text.data()) return std::nullopt;
    const std::string_view unit(end, text.data() + text.size() - end);
    for (const auto& [name, factor] : units) {
        if (unit != name) continue;
        if (value > std::numeric_limits<std::uint64_t>::max() / factor) return std::nullopt;
        return value * factor;
    }
    return std::nullopt;
}

template <std::size_t N>
std::string format_with_units(std::uint64_t value, const UnitTable<N>& units) {
    for (const auto& [name, factor] : units) {
        if (value != 0 && value % factor == 0) return std::to_string(value / factor) + std::string(name);
    }
    return std::to_string(value) + std::string(units.back().first);
}

}  // namespace

std::optional<std::uint64_t> parse_size(std::string_view text) { return parse_with_units(text, size_units); }

std::optional<std::chrono::milliseconds> parse_duration(std::string_view text) {
    const auto ms = parse_with_units(text, duration_units);
    if (!ms || *ms > static_cast<std::uint64_t>(std::chrono::milliseconds::max().count()))
        return std::nullopt;
    return std::chrono::milliseconds(*ms);
}

std::string format_size(std::uint64_t bytes) { return format_with_units(bytes, size_units); }

std::string format_duration(std::chrono::milliseconds duration) {
    return format_with_units(static_cast<std::uint64_t>(duration.count()), duration_units);
}

}  // namespace easgate::config
