#include "base64.hpp"

#include <array>
#include <bit>
#include <cstdint>
#include <cstring>

#include "easgate/common/text.hpp"

#if defined(__x86_64__)
#include <immintrin.h>
#define EASGATE_BASE64_SSSE3 1
#endif

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

// Six bytes at a time, read as one big-endian word (eight bytes: two beyond the six must exist).
// Returns the bytes encoded.
std::size_t encode_portable(const unsigned char* in, std::size_t size, char* out) {
    std::size_t done = 0;
    for (; done + 8 <= size; done += 6, out += 8) {
        std::uint64_t word = 0;
        std::memcpy(&word, in + done, sizeof word);
        if constexpr (std::endian::native == std::endian::little) word = __builtin_bswap64(word);
        for (std::size_t pair = 0; pair < 4; ++pair)
            std::memcpy(out + 2 * pair, pairs[(word >> (52 - 12 * pair)) & 0xfff].data(), 2);
    }
    return done;
}

#ifdef EASGATE_BASE64_SSSE3
// Twelve bytes to sixteen characters per step, as Wojciech Muła's SSSE3 encoder does it: each
// three-byte group is shuffled into a 32-bit lane, two multiplies move its four 6-bit values into
// bytes, and a 16-entry table gives the offset from value to character by range. A step loads
// sixteen bytes, so four beyond the twelve must exist. Returns the bytes encoded.
__attribute__((target("ssse3"))) std::size_t encode_ssse3(const unsigned char* in, std::size_t size,
                                                          char* out) {
    const __m128i spread = _mm_set_epi8(10, 11, 9, 10, 7, 8, 6, 7, 4, 5, 3, 4, 1, 2, 0, 1);
    // Indexed by: 0 for a-z, 1-10 for 0-9, 11 for '+', 12 for '/', 13 for A-Z.
    const __m128i offsets =
        _mm_setr_epi8('a' - 26, '0' - 52, '0' - 52, '0' - 52, '0' - 52, '0' - 52, '0' - 52, '0' - 52,
                      '0' - 52, '0' - 52, '0' - 52, '+' - 62, '/' - 63, 'A', 0, 0);
    std::size_t done = 0;
    for (; done + 16 <= size; done += 12, out += 16) {
        const __m128i lanes =
            _mm_shuffle_epi8(_mm_loadu_si128(reinterpret_cast<const __m128i*>(in + done)), spread);
        const __m128i high =
            _mm_mulhi_epu16(_mm_and_si128(lanes, _mm_set1_epi32(0x0fc0fc00)), _mm_set1_epi32(0x04000040));
        const __m128i low =
            _mm_mullo_epi16(_mm_and_si128(lanes, _mm_set1_epi32(0x003f03f0)), _mm_set1_epi32(0x01000010));
        const __m128i values = _mm_or_si128(high, low);
        const __m128i upper_case = _mm_cmpgt_epi8(_mm_set1_epi8(26), values);
        const __m128i range = _mm_or_si128(_mm_subs_epu8(values, _mm_set1_epi8(51)),
                                           _mm_and_si128(upper_case, _mm_set1_epi8(13)));
        _mm_storeu_si128(reinterpret_cast<__m128i*>(out),
                         _mm_add_epi8(values, _mm_shuffle_epi8(offsets, range)));
    }
    return done;
}
#endif

bool cpu_has_ssse3() {
#ifdef EASGATE_BASE64_SSSE3
    static const bool has = [] {
        __builtin_cpu_init();
        return __builtin_cpu_supports("ssse3") != 0;
    }();
    return has;
#else
    return false;
#endif
}

}  // namespace

bool base64_kernel_available(Base64Kernel kernel) {
    return kernel == Base64Kernel::portable || cpu_has_ssse3();
}

std::string base64_encode_with(std::string_view bytes, Base64Kernel kernel) {
    std::string text((bytes.size() + 2) / 3 * 4, '=');
    const auto* in = reinterpret_cast<const unsigned char*>(bytes.data());
    char* out = text.data();
    std::size_t done = 0;
#ifdef EASGATE_BASE64_SSSE3
    if (kernel == Base64Kernel::ssse3) done = encode_ssse3(in, bytes.size(), out);
#endif
    done += encode_portable(in + done, bytes.size() - done, out + done / 3 * 4);
    out += done / 3 * 4;
    for (; done + 3 <= bytes.size(); done += 3, out += 4) encode_group(in + done, out);
    if (const std::size_t rest = bytes.size() - done; rest > 0) {
        std::array<unsigned char, 3> last{in[done], rest == 2 ? in[done + 1] : std::uint8_t{0}, 0};
        encode_group(last.data(), out);
        out[3] = '=';
        if (rest == 1) out[2] = '=';
    }
    return text;
}

std::string base64_encode(std::string_view bytes) {
    return base64_encode_with(bytes, cpu_has_ssse3() ? Base64Kernel::ssse3 : Base64Kernel::portable);
}

}  // namespace easgate::common
