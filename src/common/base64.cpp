#include <array>
#include <bit>
#include <cstdint>
#include <cstring>

#include "easgate/common/text.hpp"

namespace easgate::common {
namespace {

constexpr std::string_view alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

// Every 12-bit value as its two characters.
constexpr auto pairs = [] {
    std::array<std::array<char, 2>, 4096> table{};
    for (std::size_t value = 0; value < table.size(); ++value)
        table[value] = {alphabet[value >> 6], alphabet[value & 63]};
    return table;
}();

// Three bytes to four characters.
void encode_group(const unsigned char* in, char* out) {
    const std::uint32_t group = std::uint32_t{in[0]} << 16 | std::uint32_t{in[1]} << 8 | in[2];
    std::memcpy(out, pairs[group >> 12].data(), 2);
    std::memcpy(out + 2, pairs[group & 0xfff].data(), 2);
}

}  // namespace

std::string base64_encode(std::string_view bytes) {
    std::string text((bytes.size() + 2) / 3 * 4, '=');
    const auto* in = reinterpret_cast<const unsigned char*>(bytes.data());
    char* out = text.data();
    std::size_t done = 0;
    // Six bytes at a time, read as one big-endian word (eight bytes: two beyond the six must exist).
    for (; done + 8 <= bytes.size(); done += 6, out += 8) {
        std::uint64_t word = 0;
        std::memcpy(&word, in + done, sizeof word);
        if constexpr (std::endian::native == std::endian::little) word = __builtin_bswap64(word);
        for (std::size_t pair = 0; pair < 4; ++pair)
            std::memcpy(out + 2 * pair, pairs[(word >> (52 - 12 * pair)) & 0xfff].data(), 2);
    }
    for (; done + 3 <= bytes.size(); done += 3, out += 4) encode_group(in + done, out);
    if (const std::size_t rest = bytes.size() - done; rest > 0) {
        std::array<unsigned char, 3> last{in[done], rest == 2 ? in[done + 1] : std::uint8_t{0}, 0};
        encode_group(last.data(), out);
        out[3] = '=';
        if (rest == 1) out[2] = '=';
    }
    return text;
}

}  // namespace easgate::common
