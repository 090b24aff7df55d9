#include "easgate/delegation/spnego.hpp"

#include <cstdint>

namespace easgate::delegation {
namespace {

// OID bodies (DER contents of the OBJECT IDENTIFIER).
constexpr std::string_view spnego_oid{"\x2b\x06\x01\x05\x05\x02", 6};                // 1.3.6.1.5.5.2
constexpr std::string_view kerberos_oid{"\x2a\x86\x48\x86\xf7\x12\x01\x02\x02", 9};  // 1.2.840.113554.1.2.2

// DER definite lengths: short form below 128 bytes, else a count byte and the length, big-endian.
std::size_t length_bytes(std::size_t length) {
    if (length < 0x80) return 1;
    std::size_t count = 1;
    for (; length != 0; length >>= 8) ++count;
    return count;
}

// The size of a whole tag-length-value with `content` bytes of content.
std::size_t tlv_size(std::size_t content) { return 1 + length_bytes(content) + content; }

void append_header(std::string& out, std::uint8_t tag, std::size_t content) {
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

void append_tlv(std::string& out, std::uint8_t tag, std::string_view content) {
    append_header(out, tag, content.size());
    out += content;
}

}  // namespace

// Sizes first, then one pass into one string: the token (a KiB or more) is copied once.
std::string wrap_in_spnego(std::string_view kerberos_token) {
    const std::size_t oids = tlv_size(kerberos_oid.size());                  // in mechTypes
    const std::size_t mech_types = tlv_size(oids);                           // SEQUENCE OF OID, in [0]
    const std::size_t mech_token = tlv_size(kerberos_token.size());          // OCTET STRING, in [2]
    const std::size_t fields = tlv_size(mech_types) + tlv_size(mech_token);  // [0] and [2]
    const std::size_t neg_token_init = tlv_size(fields);                     // SEQUENCE, in [0]
    const std::size_t body = tlv_size(spnego_oid.size()) + tlv_size(neg_token_init);
    std::string out;
    out.reserve(tlv_size(body));
    append_header(out, 0x60, body);
    append_tlv(out, 0x06, spnego_oid);
    append_header(out, 0xa0, neg_token_init);
    append_header(out, 0x30, fields);
    append_header(out, 0xa0, mech_types);
    append_header(out, 0x30, oids);
    append_tlv(out, 0x06, kerberos_oid);
    append_header(out, 0xa2, mech_token);
    append_tlv(out, 0x04, kerberos_token);
    return out;
}

}  // namespace easgate::delegation
