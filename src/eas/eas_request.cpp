#include "easgate/eas/eas_request.hpp"

#include <algorithm>
#include <array>
#include <cstdint>
#include <span>
#include <string>

#include "byte_reader.hpp"

namespace easgate::eas {
namespace {

constexpr std::string_view active_sync_path = "/Microsoft-Server-ActiveSync";
constexpr std::string_view autodiscover_path = "/autodiscover/autodiscover.xml";

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

// Command parameters (2.2.1.1.1.2.5), the spelling kept whatever case the device used.
constexpr std::array<std::string_view, 6> known_parameters = {"AttachmentName", "CollectionId", "ItemId",
                                                              "LongId",         "Occurrence",   "SaveInSent"};

// Parameter tags of the base64 form (2.2.1.1.1.1.3); 2 and 5 are not assigned.
enum ParameterTag : std::uint8_t {
    attachment_name_tag = 0,
    collection_id_tag = 1,
    item_id_tag = 3,
    long_id_tag = 4,
    occurrence_tag = 6,
    options_tag = 7,
    user_tag = 8,
};
constexpr std::uint8_t save_in_sent_flag = 0x01;
constexpr std::uint8_t accept_multipart_flag = 0x02;

// Protocol version bytes the spec allows in the base64 form (2.2.1.1.1.1): 2.5 and 12.0 cannot use it.
constexpr std::array<std::uint8_t, 5> base64_protocol_versions = {121, 140, 141, 160, 161};

constexpr std::size_t max_command_name_bytes = 32;
constexpr std::size_t max_parameter_name_bytes = 64;
constexpr std::size_t max_policy_key_bytes = 64;  // MS-ASPROV 2.2.2.42

char to_lower(char character) {
    return character >= 'A' && character <= 'Z' ? static_cast<char>(character - 'A' + 'a') : character;
}

bool equals_ignoring_case(std::string_view left, std::string_view right) {
    return left.size() == right.size() &&
           std::equal(left.begin(), left.end(), right.begin(),
                      [](char a, char b) { return to_lower(a) == to_lower(b); });
}

bool is_alpha(char character) {
    return (character >= 'A' && character <= 'Z') || (character >= 'a' && character <= 'z');
}
bool is_digit(char character) { return character >= '0' && character <= '9'; }
bool is_control(unsigned char byte) { return byte < 0x20 || byte == 0x7f; }
bool is_visible_ascii(unsigned char byte) { return byte > 0x20 && byte < 0x7f; }

bool has_control(std::string_view text) {
    return std::any_of(text.begin(), text.end(),
                       [](char c) { return is_control(static_cast<unsigned char>(c)); });
}
bool all_visible_ascii(std::string_view text) {
    return std::all_of(text.begin(), text.end(),
                       [](char c) { return is_visible_ascii(static_cast<unsigned char>(c)); });
}

int hex_digit_value(char character) {
    if (is_digit(character)) return character - '0';
    const char lower = to_lower(character);
    if (lower >= 'a' && lower <= 'f') return lower - 'a' + 10;
    return -1;
}

std::string hex_byte(std::uint8_t byte) {
    constexpr std::string_view digits = "0123456789ABCDEF";
    return {digits[byte >> 4], digits[byte & 0x0f]};
}

std::string upper_hex(std::span<const std::uint8_t> bytes) {
    std::string hex;
    hex.reserve(bytes.size() * 2);
    for (const std::uint8_t byte : bytes) hex += hex_byte(byte);
    return hex;
}

// nullopt when a '%' is not followed by two hex digits.
std::optional<std::string> percent_decode(std::string_view text, bool plus_is_space) {
    std::string decoded;
    decoded.reserve(text.size());
    for (std::size_t position = 0; position < text.size(); ++position) {
        const char character = text[position];
        if (character == '%') {
            if (position + 2 >= text.size()) return std::nullopt;
            const int high = hex_digit_value(text[position + 1]);
            const int low = hex_digit_value(text[position + 2]);
            if (high < 0 || low < 0) return std::nullopt;
            decoded += static_cast<char>(high * 16 + low);
            position += 2;
        } else if (character == '+' && plus_is_space) {
            decoded += ' ';
        } else {
            decoded += character;
        }
    }
    return decoded;
}

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

// The spec's spelling of a plain-form name, or nullopt for a name it does not list.
std::optional<std::string_view> known_plain_name(std::string_view name) {
    for (const std::string_view field : {"Cmd", "User", "DeviceId", "DeviceType"}) {
        if (equals_ignoring_case(name, field)) return field;
    }
    for (const std::string_view known : known_parameters) {
        if (equals_ignoring_case(name, known)) return known;
    }
    return std::nullopt;
}

// A base64 query has no '&' and '=' only as trailing padding. "Cmd=" (empty value) is still plain,
// so the wrong form does not hide the real problem behind a base64 error.
bool is_plain_query(std::string_view query) {
    if (query.find('&') != std::string_view::npos) return true;
    const std::size_t equals = query.find('=');
    if (equals == std::string_view::npos) return false;
    if (query.find_first_not_of('=', equals) != std::string_view::npos) return true;
    return known_plain_name(query.substr(0, equals)).has_value();
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

// Classifies the path; refuses spellings that a server normalising paths could read differently.
std::string classify_path(std::string_view raw_path, EasPath& path) {
    const std::optional<std::string> decoded = percent_decode(raw_path, false);
    if (!decoded) return "path has a malformed percent escape";
    std::string_view remaining = *decoded;
    if (has_control(remaining)) return "path holds a control character";
    if (remaining.find('\\') != std::string_view::npos) return "path holds a backslash";
    if (remaining.size() > 1 && remaining.back() == '/') remaining.remove_suffix(1);
    const std::string_view normalised = remaining;
    if (remaining.size() > 1) {
        remaining.remove_prefix(1);
        while (true) {
            const std::size_t slash = remaining.find('/');
            const std::string_view segment = remaining.substr(0, slash);
            if (segment.empty()) return "path has an empty segment";
            if (segment == "." || segment == "..") return "path has a '.' or '..' segment";
            if (slash == std::string_view::npos) break;
            remaining.remove_prefix(slash + 1);
        }
    }
    if (equals_ignoring_case(normalised, active_sync_path)) {
        path = EasPath::active_sync;
    } else if (equals_ignoring_case(normalised, autodiscover_path)) {
        path = EasPath::autodiscover;
    } else {
        path = EasPath::other;
    }
    return {};
}

std::string parse_plain_query(std::string_view query, bool options, EasRequest& request) {
    std::vector<std::string> seen_names;  // lower case
    bool has_command = false;
    bool has_device_id = false;
    bool has_device_type = false;
    std::size_t start = 0;
    while (start <= query.size()) {
        std::size_t end = query.find('&', start);
        if (end == std::string_view::npos) end = query.size();
        const std::string_view segment = query.substr(start, end - start);
        start = end + 1;
        if (segment.empty()) continue;  // "&&" or a trailing '&': harmless
        if (seen_names.size() == max_query_parameters) {
            return "query has more than " + std::to_string(max_query_parameters) + " parameters";
        }
        const std::string number = std::to_string(seen_names.size() + 1);
        const std::size_t equals = segment.find('=');
        if (equals == std::string_view::npos) return "query parameter " + number + " has no '='";
        const std::optional<std::string> raw_name = percent_decode(segment.substr(0, equals), true);
        if (!raw_name || raw_name->empty() || raw_name->size() > max_parameter_name_bytes ||
            !std::all_of(raw_name->begin(), raw_name->end(),
                         [](char c) { return is_alpha(c) || is_digit(c); })) {
            return "query parameter " + number + " has a malformed name";
        }
        // Validated as letters and digits above, so safe to repeat in an error.
        const std::string name(known_plain_name(*raw_name).value_or(*raw_name));
        const std::optional<std::string> value = percent_decode(segment.substr(equals + 1), true);
        if (!value) return "query parameter " + name + " has a malformed percent escape";
        if (has_control(*value)) return "query parameter " + name + " holds a control character";

        std::string lower_name(name.size(), '\0');
        std::transform(name.begin(), name.end(), lower_name.begin(), to_lower);
        if (std::find(seen_names.begin(), seen_names.end(), lower_name) != seen_names.end()) {
            return "query parameter " + name + " appears more than once";
        }
        seen_names.push_back(std::move(lower_name));

        if (name == "Cmd") {
            if (value->empty() || value->size() > max_command_name_bytes ||
                !std::all_of(value->begin(), value->end(), is_alpha)) {
                return "Cmd is not a command name (1 to " + std::to_string(max_command_name_bytes) +
                       " letters)";
            }
            // An unknown command is kept as sent: deciding what to do with it is not the parser's job.
            request.command = std::string(canonical_command(*value).value_or(*value));
            has_command = true;
        } else if (name == "User") {
            request.user = *value;
        } else if (name == "DeviceId") {
            if (std::string error = device_id_error(*value); !error.empty()) return error;
            request.device_id = *value;
            has_device_id = true;
        } else if (name == "DeviceType") {
            if (std::string error = device_type_error(*value); !error.empty()) return error;
            request.device_type = *value;
            has_device_type = true;
        } else {
            request.parameters.emplace_back(name, *value);
        }
    }
    if (!options) {
        if (!has_command) return "query has no Cmd";
        if (!has_device_id) return "query has no DeviceId";
        if (!has_device_type) return "query has no DeviceType";
    }
    return {};
}

int base64_digit_value(char character) {
    if (character >= 'A' && character <= 'Z') return character - 'A';
    if (character >= 'a' && character <= 'z') return character - 'a' + 26;
    if (is_digit(character)) return character - '0' + 52;
    if (character == '+' || character == '-') return 62;
    if (character == '/' || character == '_') return 63;
    return -1;
}

// Either alphabet (RFC 4648 sections 4 and 5, mixed even), padding optional but correct if present.
std::string decode_base64(std::string_view text, std::vector<std::uint8_t>& bytes) {
    const std::size_t data_length = text.find_last_not_of('=') + 1;  // npos + 1 == 0
    const std::size_t padding = text.size() - data_length;
    if (padding > 2 || (padding > 0 && text.size() % 4 != 0)) return "base64 query: padding is malformed";
    if (data_length % 4 == 1) {
        return "base64 query: " + std::to_string(data_length) + " characters cannot be base64";
    }
    std::uint32_t bits = 0;
    int bit_count = 0;
    for (std::size_t position = 0; position < data_length; ++position) {
        const int value = base64_digit_value(text[position]);
        if (value < 0) {
            return "base64 query: byte 0x" + hex_byte(static_cast<std::uint8_t>(text[position])) +
                   " at offset " + std::to_string(position) + " is not base64";
        }
        bits = (bits << 6) | static_cast<std::uint32_t>(value);
        bit_count += 6;
        if (bit_count >= 8) {
            bit_count -= 8;
            bytes.push_back(static_cast<std::uint8_t>(bits >> bit_count));
            bits &= (1u << bit_count) - 1;
        }
    }
    return {};
}

std::string as_text(std::span<const std::uint8_t> bytes) { return {bytes.begin(), bytes.end()}; }

// Reads a length byte and that many bytes into `field`, or says which of the two is missing.
std::string read_length_prefixed(ByteReader& reader, std::string_view name,
                                 std::span<const std::uint8_t>& field) {
    if (reader.at_end()) return "base64 query: ends before the " + std::string(name) + " length";
    const std::uint8_t length = *reader.byte();
    if (length > reader.remaining()) {
        return "base64 query: " + std::string(name) + " length " + std::to_string(length) +
               " runs past the end (" + std::to_string(reader.remaining()) + " bytes left)";
    }
    field = *reader.bytes(length);
    return {};
}

std::string_view parameter_name(std::uint8_t tag) {
    switch (tag) {
        case attachment_name_tag:
            return "AttachmentName";
        case collection_id_tag:
            return "CollectionId";
        case item_id_tag:
            return "ItemId";
        case long_id_tag:
            return "LongId";
        case occurrence_tag:
            return "Occurrence";
        case options_tag:
            return "Options";
        case user_tag:
            return "User";
        default:
            return {};
    }
}

std::string parse_base64_parameters(ByteReader& reader, EasRequest& request) {
    std::array<bool, 256> seen_tags{};
    std::size_t count = 0;
    while (!reader.at_end()) {
        const std::size_t tag_offset = reader.offset();
        const std::uint8_t tag = *reader.byte();
        const std::string_view name = parameter_name(tag);
        if (name.empty()) return "base64 query: unknown parameter tag " + std::to_string(tag);
        if (++count > max_query_parameters) {
            return "base64 query: more than " + std::to_string(max_query_parameters) + " parameters";
        }
        if (reader.at_end()) {
            return "base64 query: parameter " + std::string(name) + " at offset " +
                   std::to_string(tag_offset) + " has no length";
        }
        const std::uint8_t length = *reader.byte();
        if (length > reader.remaining()) {
            return "base64 query: parameter " + std::string(name) + " length " + std::to_string(length) +
                   " runs past the end (" + std::to_string(reader.remaining()) + " bytes left)";
        }
        const std::span<const std::uint8_t> value = *reader.bytes(length);
        if (seen_tags[tag]) return "base64 query: parameter " + std::string(name) + " appears more than once";
        seen_tags[tag] = true;

        if (tag == options_tag) {
            if (length != 1) return "base64 query: Options length " + std::to_string(length) + " is not 1";
            const std::uint8_t flags = value[0];
            const std::uint8_t undefined = flags & ~(save_in_sent_flag | accept_multipart_flag);
            if (undefined != 0) return "base64 query: Options has undefined bits 0x" + hex_byte(undefined);
            if (flags & save_in_sent_flag) request.parameters.emplace_back("SaveInSent", "T");
            if (flags & accept_multipart_flag) request.parameters.emplace_back("AcceptMultiPart", "T");
            continue;
        }
        const std::string text = as_text(value);
        if (has_control(text)) {
            return "base64 query: parameter " + std::string(name) + " holds a control character";
        }
        if (tag == user_tag) {
            request.user = text;
            continue;
        }
        if (text.empty()) return "base64 query: parameter " + std::string(name) + " is empty";
        request.parameters.emplace_back(name, text);
    }
    return {};
}

// The byte structure of MS-ASHTTP 2.2.1.1.1.1.
std::string parse_base64_structure(std::span<const std::uint8_t> bytes, EasRequest& request) {
    constexpr std::size_t fixed_header_bytes = 4;  // version, command code, locale
    if (bytes.size() < fixed_header_bytes) {
        return "base64 query: " + std::to_string(bytes.size()) + " bytes is shorter than the " +
               std::to_string(fixed_header_bytes) + "-byte fixed part";
    }
    ByteReader reader(bytes);
    const std::uint8_t version = *reader.byte();
    if (std::find(base64_protocol_versions.begin(), base64_protocol_versions.end(), version) ==
        base64_protocol_versions.end()) {
        return "base64 query: protocol version " + std::to_string(version) +
               " is not one of 121, 140, 141, 160, 161";
    }
    request.protocol_version = std::to_string(version / 10) + "." + std::to_string(version % 10);

    const std::uint8_t code = *reader.byte();
    const std::optional<std::string_view> command = command_for_code(code);
    if (!command) return "base64 query: unknown command code " + std::to_string(code);
    request.command = std::string(*command);

    const std::uint8_t locale_low = *reader.byte();
    const std::uint8_t locale_high = *reader.byte();
    request.locale = "0x" + hex_byte(locale_high) + hex_byte(locale_low);

    std::span<const std::uint8_t> device_id;
    if (std::string error = read_length_prefixed(reader, "DeviceId", device_id); !error.empty()) return error;
    if (device_id.empty()) return "base64 query: DeviceId length is 0";
    const std::string device_id_text = as_text(device_id);
    // A GUID may be sent as 16 raw bytes; hex keeps it printable and loggable.
    request.device_id = all_visible_ascii(device_id_text) ? device_id_text : upper_hex(device_id);
    if (std::string error = device_id_error(request.device_id); !error.empty()) {
        return "base64 query: " + error;
    }

    std::span<const std::uint8_t> policy_key;
    if (std::string error = read_length_prefixed(reader, "PolicyKey", policy_key); !error.empty()) {
        return error;
    }
    if (policy_key.size() == 4) {
        const std::uint32_t key =
            static_cast<std::uint32_t>(policy_key[0]) | static_cast<std::uint32_t>(policy_key[1]) << 8 |
            static_cast<std::uint32_t>(policy_key[2]) << 16 | static_cast<std::uint32_t>(policy_key[3]) << 24;
        request.policy_key = std::to_string(key);
    } else if (!policy_key.empty()) {
        return "base64 query: PolicyKey length " + std::to_string(policy_key.size()) + " is not 0 or 4";
    }

    std::span<const std::uint8_t> device_type;
    if (std::string error = read_length_prefixed(reader, "DeviceType", device_type); !error.empty()) {
        return error;
    }
    request.device_type = as_text(device_type);
    if (std::string error = device_type_error(request.device_type); !error.empty()) {
        return "base64 query: " + error;
    }

    return parse_base64_parameters(reader, request);
}

std::string parse_base64_query(std::string_view query, EasRequest& request) {
    const std::optional<std::string> unescaped = percent_decode(query, false);
    if (!unescaped) return "base64 query: malformed percent escape";
    std::vector<std::uint8_t> bytes;
    if (std::string error = decode_base64(*unescaped, bytes); !error.empty()) return error;
    request.base64_query = true;
    return parse_base64_structure(bytes, request);
}

// "14.1", "2.5": the shape of every value MS-ASHTTP 2.2.1.1.2.6 lists.
bool is_protocol_version(std::string_view version) {
    const std::size_t dot = version.find('.');
    if (dot == std::string_view::npos || dot == 0 || dot > 2 || version.size() != dot + 2) return false;
    return std::all_of(version.begin(), version.begin() + dot, is_digit) && is_digit(version.back());
}

// Only for the ActiveSync path: the fields mean nothing elsewhere, so they are not judged there.
std::string apply_eas_headers(const EasHeaders& headers, EasRequest& request) {
    if (request.protocol_version.empty() && !headers.protocol_version.empty()) {
        if (!is_protocol_version(headers.protocol_version)) {
            return "MS-ASProtocolVersion header is not a version such as 14.1";
        }
        request.protocol_version = headers.protocol_version;
    }
    if (request.policy_key.empty() && !headers.policy_key.empty()) {
        if (headers.policy_key.size() > max_policy_key_bytes || !all_visible_ascii(headers.policy_key)) {
            return "X-MS-PolicyKey header is not 1 to " + std::to_string(max_policy_key_bytes) +
                   " visible ASCII characters";
        }
        request.policy_key = headers.policy_key;
    }
    return {};
}

EasParseResult refused(std::string reason) { return {std::nullopt, std::move(reason)}; }

}  // namespace

std::optional<std::string_view> EasRequest::parameter(std::string_view name) const {
    for (const auto& [parameter_name, value] : parameters) {
        if (equals_ignoring_case(parameter_name, name)) return value;
    }
    return std::nullopt;
}

EasParseResult parse_eas_request(std::string_view method, std::string_view target,
                                 const EasHeaders& headers) {
    if (target.empty() || target.front() != '/') return refused("request-target does not start with '/'");
    for (const char character : target) {
        const auto byte = static_cast<unsigned char>(character);
        if (byte <= 0x20 || byte >= 0x7f) {
            return refused("request-target holds byte 0x" + hex_byte(byte) +
                           ", which must be percent-encoded");
        }
    }
    if (target.find('#') != std::string_view::npos) return refused("request-target has a fragment");

    const std::size_t question_mark = target.find('?');
    const std::string_view raw_path = target.substr(0, question_mark);
    const std::string_view query =
        question_mark == std::string_view::npos ? std::string_view() : target.substr(question_mark + 1);
    if (query.size() > max_query_bytes) {
        return refused("query is " + std::to_string(query.size()) + " bytes, over the " +
                       std::to_string(max_query_bytes) + "-byte limit");
    }

    EasRequest request;
    if (std::string error = classify_path(raw_path, request.path); !error.empty()) return refused(error);
    if (request.path == EasPath::active_sync) {
        const bool options = method == "OPTIONS";
        if (query.empty()) {
            if (!options) return refused("ActiveSync request has no query (Cmd, DeviceId and DeviceType)");
        } else {
            std::string error = is_plain_query(query) ? parse_plain_query(query, options, request)
                                                      : parse_base64_query(query, request);
            if (!error.empty()) return refused(error);
        }
        // OPTIONS asks which versions and commands the server supports; it runs no command.
        if (options) request.command.clear();
        if (std::string error = apply_eas_headers(headers, request); !error.empty()) return refused(error);
    }
    request.user_agent = headers.user_agent;
    return {std::move(request), {}};
}

}  // namespace easgate::eas
