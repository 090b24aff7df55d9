#pragma once

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "easgate/eas/eas_request.hpp"

// Request-targets for the parse_eas_request tests, built independently of the parser.
namespace easgate::eas::test {

using Bytes = std::vector<std::uint8_t>;
using Parameters = std::vector<std::pair<std::string, std::string>>;

inline constexpr std::string_view active_sync = "/Microsoft-Server-ActiveSync";

inline Bytes bytes_of(std::string_view text) { return {text.begin(), text.end()}; }

// The byte structure of MS-ASHTTP 2.2.1.1.1.1, built field by field so each test states only
// what it varies. Lengths are taken from the fields unless a test overrides them to lie.
struct Base64Query {
    std::uint8_t protocol_version = 141;
    std::uint8_t command_code = 0;
    std::uint16_t locale = 0x0409;
    Bytes device_id = bytes_of("ABC123");
    std::optional<std::uint32_t> policy_key;
    Bytes device_type = bytes_of("iPhone");
    std::vector<std::pair<std::uint8_t, Bytes>> parameters;

    Bytes encode() const {
        Bytes bytes = {protocol_version, command_code, static_cast<std::uint8_t>(locale & 0xff),
                       static_cast<std::uint8_t>(locale >> 8)};
        bytes.push_back(static_cast<std::uint8_t>(device_id.size()));
        bytes.insert(bytes.end(), device_id.begin(), device_id.end());
        if (policy_key) {
            bytes.push_back(4);
            for (int shift = 0; shift < 32; shift += 8) {
                bytes.push_back(static_cast<std::uint8_t>(*policy_key >> shift));
            }
        } else {
            bytes.push_back(0);
        }
        bytes.push_back(static_cast<std::uint8_t>(device_type.size()));
        bytes.insert(bytes.end(), device_type.begin(), device_type.end());
        for (const auto& [tag, value] : parameters) {
            bytes.push_back(tag);
            bytes.push_back(static_cast<std::uint8_t>(value.size()));
            bytes.insert(bytes.end(), value.begin(), value.end());
        }
        return bytes;
    }
};

enum class Alphabet { standard, url_safe };

inline std::string to_base64(const Bytes& bytes, Alphabet alphabet = Alphabet::standard, bool padded = true) {
    const std::string digits = alphabet == Alphabet::standard
                                   ? "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
                                   : "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    std::string text;
    for (std::size_t start = 0; start < bytes.size(); start += 3) {
        const std::size_t count = std::min<std::size_t>(3, bytes.size() - start);
        std::uint32_t group = 0;
        for (std::size_t index = 0; index < 3; ++index) {
            group = (group << 8) | (index < count ? bytes[start + index] : 0);
        }
        for (std::size_t index = 0; index < 4; ++index) {
            if (index <= count) {
                text += digits[(group >> (18 - 6 * index)) & 0x3f];
            } else if (padded) {
                text += '=';
            }
        }
    }
    return text;
}

// Percent-encodes every byte that is not a letter or digit, so any value survives a plain query.
inline std::string percent_encode(std::string_view text) {
    constexpr std::string_view hex = "0123456789ABCDEF";
    std::string encoded;
    for (const char character : text) {
        const auto byte = static_cast<unsigned char>(character);
        if (std::isalnum(byte)) {
            encoded += character;
        } else {
            encoded += '%';
            encoded += hex[byte >> 4];
            encoded += hex[byte & 0x0f];
        }
    }
    return encoded;
}

inline std::string base64_target(const Base64Query& query) {
    return std::string(active_sync) + "?" + to_base64(query.encode());
}
inline std::string base64_target(const Bytes& structure) {
    return std::string(active_sync) + "?" + to_base64(structure);
}

inline EasParseResult post(std::string_view target, const EasHeaders& headers = {}) {
    return parse_eas_request("POST", target, headers);
}

inline std::string plain_target(std::string_view query) {
    return std::string(active_sync) + "?" + std::string(query);
}

// The error for a target that must be refused, or a failure naming what was decoded instead.
inline std::string refusal(const EasParseResult& result) {
    if (result) return "accepted: command " + result.request->command;
    return result.error;
}

}  // namespace easgate::eas::test
