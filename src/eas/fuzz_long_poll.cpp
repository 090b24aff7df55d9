// libFuzzer entry point for the WBXML peek of a long poll alone: how long a Ping or Sync may be held
// open decides when easgate gives up on Exchange, and the body comes straight from the device.
// Besides crashes (ASan/UBSan builds), it aborts when a result breaks long_poll_interval's contract.
//
// Input: one selector byte (the command), then the body.

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>
#include <string_view>
#include <vector>

#include "easgate/eas/long_poll.hpp"

namespace {

using easgate::eas::long_poll_interval;

void require(bool holds) {
    if (!holds) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) return 0;
    // Case matters: "ping" is not a command the server holds open.
    constexpr std::array<std::string_view, 4> commands{"Ping", "Sync", "FolderSync", "ping"};
    const std::string_view command = commands[data[0] & 0x03];
    const std::span<const std::uint8_t> body(data + 1, size - 1);

    const auto interval = long_poll_interval(command, body);
    if (!interval) return 0;
    require(command == "Ping" || command == "Sync");
    require(*interval >= std::chrono::seconds(0) && *interval <= easgate::eas::max_long_poll_interval);
    require(!body.empty() && body.size() <= easgate::eas::max_long_poll_body_bytes);
    // The document ends exactly where the body does: one byte less leaves the top-level element
    // open, one byte more is data after it; neither is a long poll to go by.
    require(!long_poll_interval(command, body.first(body.size() - 1)));
    std::vector<std::uint8_t> longer(body.begin(), body.end());
    longer.push_back(data[0]);
    require(!long_poll_interval(command, longer));
    return 0;
}
