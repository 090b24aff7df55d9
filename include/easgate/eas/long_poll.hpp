#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

namespace easgate::eas {

// Bodies longer than this are not decoded (nullopt): a long-poll Ping or Sync is well under 1 KiB,
// and the caller then falls back to its maximum, which is always safe.
inline constexpr std::size_t max_long_poll_body_bytes = 64 * 1024;
// Intervals above this are not a long poll any server grants; reported as nullopt.
inline constexpr std::chrono::seconds max_long_poll_interval{24 * 60 * 60};

// How long the mailbox server may hold this request open before answering, as the device asked in
// the WBXML body (MS-ASWBXML). `command` is spelled as EasRequest::command has it ("Ping", "Sync";
// case matters). Read are Ping's HeartbeatInterval (seconds, MS-ASCMD 2.2.3.88.1) and Sync's Wait
// (minutes, 2.2.3.198, returned in seconds) or HeartbeatInterval (seconds, 2.2.3.88.2), each as a
// direct child of the command's top-level element. The value is returned as asked, not clamped to
// the ranges the server accepts: a value outside them gets an immediate error answer anyway.
//
// nullopt when there is nothing to go by, and the caller then uses its maximum: another command; an
// empty body (a Ping without a body reuses the interval the server cached from an earlier Ping,
// which easgate cannot see); no interval element; both Wait and HeartbeatInterval, or either twice
// (the server answers at once with Status 4); a value that is not decimal digits; and any WBXML that
// is malformed, truncated, not UTF-8, uses attributes, string table references or extension tokens,
// nests deeper than 32 elements, or has bytes after the top-level element ends. Never throws; reads
// each byte at most once.
std::optional<std::chrono::seconds> long_poll_interval(std::string_view command,
                                                       std::span<const std::uint8_t> wbxml_body);

}  // namespace easgate::eas
