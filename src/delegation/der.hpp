#pragma once
// DER for the few Kerberos and SPNEGO structures easgate encodes itself: definite lengths, known sizes.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace easgate::delegation::der {

// Short form below 128 bytes, else a count byte and the length, big-endian.
inline std::size_t length_bytes(std::size_t length) {
    if (length < 0x80) return 1;
    std::size_t count = 1;
    for (; length != 0; length >>= 8) ++count;
    return count;
}

// The size of a whole tag-length-value with `content` bytes of content.
inline std::size_t tlv_size(std::size_t content) { return 1 + length_bytes(content) + content; }

inline void append_header(std::string& out, std::uint8_t tag, std::size_t content) {
    out += static_cast<char>(tag);
    if (content < 0x80) {
        out += static_cast<char>(content);
        return;
    }
    const std::size_t count = length_bytes(content) - 1;
    out += static_cast<char>(0x80 | count);
    for (std::size_t shift = 8 * count; shift != 0; shift -= 8)
        out += static_cast<char>((content >> (shift - 8)) & 0xff);
}

inline void append_tlv(std::string& out, std::uint8_t tag, std::string_view content) {
    append_header(out, tag, content.size());
    out += content;
}

inline std::string tlv(std::uint8_t tag, std::string_view content) {
    std::string out;
    out.reserve(tlv_size(content.size()));
    append_tlv(out, tag, content);
    return out;
}

// An INTEGER: the fewest two's complement bytes, big-endian.
inline std::string integer(std::int64_t value) {
    std::size_t count = 1;
    while (count < 8) {
        const std::int64_t shifted = value >> (8 * count - 1);
        if (shifted == 0 || shifted == -1) break;
        ++count;
    }
    std::string content;
    for (std::size_t i = count; i != 0; --i) content += static_cast<char>((value >> (8 * (i - 1))) & 0xff);
    return tlv(0x02, content);
}

constexpr std::uint8_t context(unsigned number) { return static_cast<std::uint8_t>(0xa0 + number); }
constexpr std::uint8_t application(unsigned number) { return static_cast<std::uint8_t>(0x60 + number); }
constexpr std::uint8_t sequence = 0x30;
constexpr std::uint8_t octet_string = 0x04;
constexpr std::uint8_t general_string = 0x1b;
constexpr std::uint8_t generalized_time = 0x18;

}  // namespace easgate::delegation::der
