#include "easgate/eas/blocked_device.hpp"

#include <array>
#include <charconv>
#include <cstdint>

#include "easgate/common/text.hpp"

namespace easgate::eas {
namespace {

// A command's response: its code page, root element and Status element (MS-ASWBXML 2.1.2.1).
struct StatusResponse {
    const char* command;
    std::uint8_t page;
    std::uint8_t root;
    std::uint8_t status;
};

constexpr std::array<StatusResponse, 17> responses{{
    {"Sync", 0x00, 0x05, 0x0e},
    {"MoveItems", 0x05, 0x05, 0x0b},
    {"GetItemEstimate", 0x06, 0x05, 0x0e},
    {"FolderCreate", 0x07, 0x13, 0x0c},
    {"FolderDelete", 0x07, 0x14, 0x0c},
    {"FolderUpdate", 0x07, 0x15, 0x0c},
    {"FolderSync", 0x07, 0x16, 0x0c},
    {"MeetingResponse", 0x08, 0x07, 0x0b},
    {"ResolveRecipients", 0x0a, 0x05, 0x07},
    {"ValidateCert", 0x0b, 0x05, 0x0a},
    {"Ping", 0x0d, 0x05, 0x07},
    {"Provision", 0x0e, 0x05, 0x0b},
    {"Search", 0x0f, 0x05, 0x0c},
    {"Settings", 0x12, 0x05, 0x06},
    {"ItemOperations", 0x14, 0x05, 0x0d},
    {"SendMail", 0x15, 0x05, 0x12},
    {"SmartForward", 0x15, 0x06, 0x12},
}};
// SmartReply shares SendMail's code page: ComposeMail, root 0x07.
constexpr StatusResponse smart_reply{"SmartReply", 0x15, 0x07, 0x12};

constexpr std::uint8_t with_content = 0x40;

bool at_least_14(const std::string& version) {
    unsigned major = 0;
    const auto [end, ec] = std::from_chars(version.data(), version.data() + version.size(), major);
    return ec == std::errc{} && major >= 14;
}

const StatusResponse* response_for(const std::string& command) {
    if (common::equals_ignoring_case(command, smart_reply.command)) return &smart_reply;
    for (const auto& response : responses)
        if (common::equals_ignoring_case(command, response.command)) return &response;
    return nullptr;
}

}  // namespace

std::optional<std::string> blocked_device_wbxml(const EasRequest& request) {
    if (!at_least_14(request.protocol_version)) return std::nullopt;
    const StatusResponse* response = response_for(request.command);
    if (response == nullptr) return std::nullopt;
    // WBXML 1.3, unknown public id, UTF-8, no string table.
    std::string body{'\x03', '\x01', '\x6a', '\x00'};
    if (response->page != 0) body += {'\x00', static_cast<char>(response->page)};
    body += static_cast<char>(response->root | with_content);
    body += static_cast<char>(response->status | with_content);
    body += '\x03';  // an inline string, NUL-terminated
    body += "129";
    body += {'\x00', '\x01', '\x01'};  // the string's end, </Status>, </root>
    return body;
}

}  // namespace easgate::eas
