#include "easgate/delegation/spnego.hpp"

#include <cstdint>

namespace easgate::delegation {
namespace {

// OID bodies (DER contents of the OBJECT IDENTIFIER).
constexpr std::string_view spnego_oid{"\x2b\x06\x01\x05\x05\x02", 6};                // 1.3.6.1.5.5.2
constexpr std::string_view kerberos_oid{"\x2a\x86\x48\x86\xf7\x12\x01\x02\x02", 9};  // 1.2.840.113554.1.2.2

// One DER tag-length-value; definite lengths, long form above 127 bytes.
std::string der(std::uint8_t tag, std::string_view content) {
    std::string out(1, static_cast<char>(tag));
    if (content.size() < 0x80) {
        out += static_cast<char>(content.size());
    } else {
        std::string length;
        for (auto size = content.size(); size != 0; size >>= 8)
            length.insert(length.begin(), static_cast<char>(size & 0xff));
        out += static_cast<char>(0x80 | length.size());
        out += length;
    }
    out += content;
    return out;
}

}  // namespace

std::string wrap_in_spnego(std::string_view kerberos_token) {
    const std::string mech_types = der(0x30, der(0x06, kerberos_oid));
    const std::string neg_token_init =
        der(0x30, der(0xa0, mech_types) + der(0xa2, der(0x04, kerberos_token)));
    return der(0x60, der(0x06, spnego_oid) + der(0xa0, neg_token_init));
}

}  // namespace easgate::delegation
