// libFuzzer entry point for the two parsers that read what a device sends before anything else does:
// the request-target and EAS headers, and the WBXML body of a long poll. Besides crashes (ASan/UBSan
// builds), it aborts when a result breaks the contract later stages rely on.
//
// Input: one selector byte, then "target\nMS-ASProtocolVersion\nX-MS-PolicyKey\nUser-Agent\nbody"
// (missing parts are empty; the body is the rest, newlines included). Build and run with clang:
//
//   scripts/fuzz.sh 60 fuzz_eas_request   (its sources are listed in src/CMakeLists.txt)

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>
#include <string_view>

#include "easgate/eas/eas_request.hpp"
#include "easgate/eas/long_poll.hpp"

namespace {

using easgate::eas::EasParseResult;
using easgate::eas::EasPath;
using easgate::eas::EasRequest;

bool is_visible_ascii(std::string_view text) {
    return std::all_of(text.begin(), text.end(), [](char c) {
        const auto byte = static_cast<unsigned char>(c);
        return byte > 0x20 && byte < 0x7f;
    });
}

bool has_control(std::string_view text) {
    return std::any_of(text.begin(), text.end(), [](char c) {
        const auto byte = static_cast<unsigned char>(c);
        return byte < 0x20 || byte == 0x7f;
    });
}

// Cuts the next '\n'-terminated part off `input`; the whole rest when there is no '\n'.
std::string_view next_line(std::string_view& input) {
    const std::size_t newline = input.find('\n');
    const std::string_view line = input.substr(0, newline);
    input.remove_prefix(newline == std::string_view::npos ? input.size() : newline + 1);
    return line;
}

void check_request(const EasParseResult& result, std::string_view method) {
    // Exactly one of request and error.
    if (result.request.has_value() == !result.error.empty()) std::abort();
    if (!result) return;
    const EasRequest& request = *result.request;
    if (request.path != EasPath::active_sync) {
        if (!request.command.empty() || !request.device_id.empty() || !request.parameters.empty()) {
            std::abort();
        }
        return;
    }
    if (method == "OPTIONS") {
        if (!request.command.empty()) std::abort();
    } else if (request.command.empty() || request.device_id.empty() || request.device_type.empty()) {
        std::abort();
    }
    if (request.device_id.size() > easgate::eas::max_device_id_bytes ||
        !is_visible_ascii(request.device_id) || !is_visible_ascii(request.device_type)) {
        std::abort();
    }
    if (request.parameters.size() > easgate::eas::max_query_parameters || has_control(request.user)) {
        std::abort();
    }
    for (const auto& [name, value] : request.parameters) {
        if (name.empty() || has_control(value)) std::abort();
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) return 0;
    const std::uint8_t selector = data[0];
    std::string_view input(reinterpret_cast<const char*>(data + 1), size - 1);
    const std::string_view target = next_line(input);
    const easgate::eas::EasHeaders headers{
        .protocol_version = next_line(input), .policy_key = next_line(input), .user_agent = next_line(input)};
    const std::span<const std::uint8_t> body(reinterpret_cast<const std::uint8_t*>(input.data()),
                                             input.size());

    constexpr std::array<std::string_view, 4> methods = {"POST", "OPTIONS", "GET", "options"};
    const std::string_view method = methods[selector & 0x03];
    const EasParseResult result = easgate::eas::parse_eas_request(method, target, headers);
    check_request(result, method);

    // The command as the gateway would pass it, or a fixed one so bodies are decoded without a valid target.
    constexpr std::array<std::string_view, 3> commands = {"Ping", "Sync", "FolderSync"};
    const std::uint8_t command_choice = (selector >> 2) & 0x03;
    const std::string_view command =
        command_choice == 3 ? (result ? std::string_view(result.request->command) : std::string_view())
                            : commands[command_choice];
    const auto interval = easgate::eas::long_poll_interval(command, body);
    if (interval) {
        if (*interval < std::chrono::seconds(0) || *interval > easgate::eas::max_long_poll_interval) {
            std::abort();
        }
        if (body.empty() || body.size() > easgate::eas::max_long_poll_body_bytes) std::abort();
        if (command != "Ping" && command != "Sync") std::abort();
    }
    return 0;
}
