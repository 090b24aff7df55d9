// The AP-REQ as krb5_mk_req_extended encodes it (MIT's ASN.1 encoder cost about 25k instructions a
// token, a third of making it).
#include "ap_request.hpp"

#include <ctime>

#include "der.hpp"

namespace easgate::delegation {
namespace {

using namespace der;

std::string_view view(const krb5_data& data) { return {data.data, data.length}; }

std::string field(unsigned number, std::string_view value) { return tlv(context(number), value); }

std::string sequence_of(std::initializer_list<std::string_view> fields) {
    std::string content;
    for (const auto part : fields) content += part;
    return tlv(sequence, content);
}

// PrincipalName ::= SEQUENCE { name-type [0] Int32, name-string [1] SEQUENCE OF KerberosString }
std::string principal_name(krb5_const_principal principal) {
    std::string names;
    for (krb5_int32 i = 0; i < principal->length; ++i)
        append_tlv(names, general_string, view(principal->data[i]));
    return sequence_of({field(0, integer(principal->type)), field(1, tlv(sequence, names))});
}

// KerberosTime: GeneralizedTime, seconds, UTC. krb5_timestamp wraps in 2038; MIT reads it unsigned.
std::string kerberos_time(krb5_timestamp timestamp) {
    const std::time_t seconds = static_cast<std::time_t>(static_cast<std::uint32_t>(timestamp));
    std::tm utc{};
    gmtime_r(&seconds, &utc);
    char text[16];
    std::strftime(text, sizeof text, "%Y%m%d%H%M%SZ", &utc);
    return tlv(generalized_time, std::string_view(text, 15));
}

}  // namespace

std::string encode_authenticator(const AuthenticatorParts& parts) {
    constexpr krb5_int32 gss_checksum_type = 0x8003;
    const std::string_view subkey(reinterpret_cast<const char*>(parts.subkey.contents), parts.subkey.length);
    const std::string fields = sequence_of({
        field(0, integer(5)),
        field(1, tlv(general_string, view(parts.client->realm))),
        field(2, principal_name(parts.client)),
        field(3, sequence_of(
                     {field(0, integer(gss_checksum_type)), field(1, tlv(octet_string, parts.checksum))})),
        field(4, integer(parts.cusec)),
        field(5, kerberos_time(parts.ctime)),
        field(6, sequence_of({field(0, integer(parts.subkey.enctype)), field(1, tlv(octet_string, subkey))})),
        field(7, integer(parts.sequence_number)),
    });
    return tlv(application(2), fields);
}

std::string encode_ap_req(std::string_view ticket, krb5_enctype etype,
                          std::string_view encrypted_authenticator) {
    constexpr std::string_view no_options{"\x03\x05\x00\x00\x00\x00\x00", 7};  // BIT STRING, 32 bits clear
    const std::string head = field(0, integer(5)) + field(1, integer(14)) + field(2, no_options);
    const std::string authenticator = field(
        4, sequence_of({field(0, integer(etype)), field(2, tlv(octet_string, encrypted_authenticator))}));
    const std::size_t ticket_field = tlv_size(ticket.size());
    const std::size_t content = head.size() + ticket_field + authenticator.size();
    std::string out;
    out.reserve(tlv_size(tlv_size(content)));
    append_header(out, application(14), tlv_size(content));
    append_header(out, sequence, content);
    out += head;
    append_tlv(out, context(3), ticket);
    out += authenticator;
    return out;
}

}  // namespace easgate::delegation
