#include <array>
#include <cstdint>
#include <span>

#include "ascii_text.hpp"
#include "easgate/eas/eas_request.hpp"
#include "query.hpp"

namespace easgate::eas {
namespace {

// Command codes of the base64 form (MS-ASHTTP 2.2.1.1.1.1.2); the names double as the canonical
// spelling of plain-form Cmd values.
struct CommandCode {
    std::uint8_t code;
    std::string_view name;
};
constexpr std::array<CommandCode, 20> command_codes = {{
    {0, "Sync"},
    {1, "SendMail"},
    {2, "SmartForward"},
    {3, "SmartReply"},
    {4, "GetAttachment"},
    {9, "FolderSync"},
    {10, "FolderCreate"},
    {11, "FolderDelete"},
    {12, "FolderUpdate"},
    {13, "MoveItems"},
    {14, "GetItemEstimate"},
    {15, "MeetingResponse"},
    {16, "Search"},
    {17, "Settings"},
    {18, "Ping"},
    {19, "ItemOperations"},
    {20, "Provision"},
    {21, "ResolveRecipients"},
    {22, "ValidateCert"},
    {23, "Find"},
}};
// Protocol 2.5 commands that only exist in the plain form.
constexpr std::array<std::string_view, 4> plain_only_commands = {"GetHierarchy", "CreateCollection",
                                                                 "DeleteCollection", "MoveCollection"};

// What command_label() can return: "-", "other" and every command name above.
constexpr auto all_command_labels = [] {
    std::array<std::string_view, 2 + command_codes.size() + plain_only_commands.size()> labels{"-", "other"};
    std::size_t next = 2;
    for (const CommandCode& command : command_codes) labels[next++] = command.name;
    for (const std::string_view command : plain_only_commands) labels[next++] = command;
    return labels;
}();

}  // namespace

std::span<const std::string_view> command_labels() { return all_command_labels; }

std::optional<std::string_view> canonical_command(std::string_view name) {
    for (const CommandCode& command : command_codes) {
        if (equals_ignoring_case(name, command.name)) return command.name;
    }
    for (const std::string_view command : plain_only_commands) {
        if (equals_ignoring_case(name, command)) return command;
    }
    return std::nullopt;
}

std::optional<std::string_view> command_for_code(std::uint8_t code) {
    for (const CommandCode& command : command_codes) {
        if (command.code == code) return command.name;
    }
    return std::nullopt;
}

std::string device_id_error(std::string_view device_id) {
    if (device_id.empty()) return "DeviceId is empty";
    if (!all_visible_ascii(device_id)) return "DeviceId holds a character other than visible ASCII";
    if (device_id.size() > max_device_id_bytes) {
        return "DeviceId is " + std::to_string(device_id.size()) + " bytes, over the " +
               std::to_string(max_device_id_bytes) + "-byte limit";
    }
    return {};
}

std::string device_type_error(std::string_view device_type) {
    if (device_type.empty()) return "DeviceType is empty";
    if (!all_visible_ascii(device_type)) return "DeviceType holds a character other than visible ASCII";
    return {};
}

}  // namespace easgate::eas
