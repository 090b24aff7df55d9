#include <algorithm>
#include <array>
#include <cstdint>
#include <span>
#include <vector>

#include "ascii_text.hpp"
#include "byte_reader.hpp"
#include "query.hpp"

namespace easgate::eas {
namespace {

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
    request.device_id = all_visible_ascii(device_id_text)
                            ? device_id_text
                            : common::hex_encode(device_id, common::HexDigits::upper);
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
}  // namespace

std::string parse_base64_query(std::string_view query, EasRequest& request) {
    std::string storage;
    const std::optional<std::string_view> unescaped = percent_decode(query, false, storage);
    if (!unescaped) return "base64 query: malformed percent escape";
    std::vector<std::uint8_t> bytes;
    if (std::string error = decode_base64(*unescaped, bytes); !error.empty()) return error;
    request.base64_query = true;
    return parse_base64_structure(bytes, request);
}

}  // namespace easgate::eas
