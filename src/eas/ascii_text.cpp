#include "ascii_text.hpp"

#include <algorithm>
#include <cstring>

namespace easgate::eas {
namespace {

bool is_control(unsigned char byte) { return byte < 0x20 || byte == 0x7f; }

int hex_digit_value(char character) {
    if (is_digit(character)) return character - '0';
    const char lower = common::ascii_lower(character);
    if (lower >= 'a' && lower <= 'f') return lower - 'a' + 10;
    return -1;
}

}  // namespace

bool has_control(std::string_view text) {
    return std::any_of(text.begin(), text.end(),
                       [](char c) { return is_control(static_cast<unsigned char>(c)); });
}
bool all_visible_ascii(std::string_view text) {
    // Every byte is looked at, without a branch per byte, so that the compiler takes 16 at a time:
    // a request-target is judged whole on every request. Visible is 0x21 to 0x7e, as is_visible_ascii.
    unsigned char outside = 0;
    for (const char c : text)
        outside |= static_cast<unsigned char>(static_cast<unsigned char>(c) - 0x21) > 0x5d;
    return outside == 0;
}

std::string hex_byte(std::uint8_t byte) { return common::hex_encode({&byte, 1}, common::HexDigits::upper); }

std::optional<std::string_view> percent_decode(std::string_view text, bool plus_is_space,
                                               std::string& storage) {
    // Most of a query has nothing to decode: then the text itself is the answer, with no copy.
    const auto has = [&](char c) { return std::memchr(text.data(), c, text.size()) != nullptr; };
    if (!has('%') && !(plus_is_space && has('+'))) return text;
    storage.clear();
    storage.reserve(text.size());
    for (std::size_t position = 0; position < text.size(); ++position) {
        const char character = text[position];
        if (character == '%') {
            if (position + 2 >= text.size()) return std::nullopt;
            const int high = hex_digit_value(text[position + 1]);
            const int low = hex_digit_value(text[position + 2]);
            if (high < 0 || low < 0) return std::nullopt;
            storage += static_cast<char>(high * 16 + low);
            position += 2;
        } else if (character == '+' && plus_is_space) {
            storage += ' ';
        } else {
            storage += character;
        }
    }
    return std::string_view(storage);
}

}  // namespace easgate::eas
