// The AP-REQ as krb5_mk_req_extended encodes it (MIT's generic ASN.1 encoder cost about 25k
// instructions a token, a third of making it).
#include "ap_request.hpp"

#include <array>
#include <ctime>
#include <optional>

#include "der.hpp"

namespace easgate::delegation {
namespace {

using der::application;
using der::context;

std::string_view view(const krb5_data& data) { return {data.data, data.length}; }

// PrincipalName ::= SEQUENCE { name-type [0] Int32, name-string [1] SEQUENCE OF KerberosString }
void principal_name(der::BackwardWriter& out, krb5_const_principal principal) {
    out.wrapped(der::sequence, [&] {
        out.wrapped(context(1), [&] {
            out.wrapped(der::sequence, [&] {
                for (krb5_int32 i = principal->length; i > 0; --i)
                    out.tlv(der::general_string, view(principal->data[i - 1]));
            });
        });
        out.wrapped(context(0), [&] { out.integer(principal->type); });
    });
}

// KerberosTime: GeneralizedTime, seconds, UTC. krb5_timestamp wraps in 2038; MIT reads it unsigned.
// Each thread keeps the text of the last second it wrote (gmtime_r and strftime cost about 1,300
// instructions, and a busy gateway makes many tokens a second).
void kerberos_time(der::BackwardWriter& out, krb5_timestamp timestamp) {
    thread_local std::optional<krb5_timestamp> last;
    thread_local std::array<char, 16> text{};
    if (last != timestamp) {
        const std::time_t seconds = static_cast<std::time_t>(static_cast<std::uint32_t>(timestamp));
        std::tm utc{};
        gmtime_r(&seconds, &utc);
        std::strftime(text.data(), text.size(), "%Y%m%d%H%M%SZ", &utc);
        last = timestamp;
    }
    out.tlv(der::generalized_time, std::string_view(text.data(), 15));
}

}  // namespace

// Back to front: the last field first.
std::string encode_authenticator(const AuthenticatorParts& parts) {
    constexpr krb5_int32 gss_checksum_type = 0x8003;
    const std::string_view subkey(reinterpret_cast<const char*>(parts.subkey.contents), parts.subkey.length);
    der::BackwardWriter out(256);
    out.wrapped(application(2), [&] {
        out.wrapped(der::sequence, [&] {
            out.wrapped(context(7), [&] { out.integer(parts.sequence_number); });
            out.wrapped(context(6), [&] {
                out.wrapped(der::sequence, [&] {
                    out.wrapped(context(1), [&] { out.tlv(der::octet_string, subkey); });
                    out.wrapped(context(0), [&] { out.integer(parts.subkey.enctype); });
                });
            });
            out.wrapped(context(5), [&] { kerberos_time(out, parts.ctime); });
            out.wrapped(context(4), [&] { out.integer(parts.cusec); });
            out.wrapped(context(3), [&] {
                out.wrapped(der::sequence, [&] {
                    out.wrapped(context(1), [&] { out.tlv(der::octet_string, parts.checksum); });
                    out.wrapped(context(0), [&] { out.integer(gss_checksum_type); });
                });
            });
            out.wrapped(context(2), [&] { principal_name(out, parts.client); });
            out.wrapped(context(1), [&] { out.tlv(der::general_string, view(parts.client->realm)); });
            out.wrapped(context(0), [&] { out.integer(5); });
        });
    });
    return std::move(out).take();
}

void encode_ap_req(der::BackwardWriter& out, std::string_view ticket, krb5_enctype etype,
                   std::string_view encrypted_authenticator) {
    // BIT STRING of 32 bits, mutual-required (bit 2) set: an acceptor answers only such a client's
    // refusal with a KRB-ERROR (MIT sends none otherwise), whose code the operator is then told.
    constexpr std::string_view options{"\x03\x05\x00\x20\x00\x00\x00", 7};
    out.wrapped(application(14), [&] {
        out.wrapped(der::sequence, [&] {
            out.wrapped(context(4), [&] {
                out.wrapped(der::sequence, [&] {
                    out.wrapped(context(2), [&] { out.tlv(der::octet_string, encrypted_authenticator); });
                    out.wrapped(context(0), [&] { out.integer(etype); });
                });
            });
            out.wrapped(context(3), [&] { out.bytes(ticket); });
            out.wrapped(context(2), [&] { out.bytes(options); });
            out.wrapped(context(1), [&] { out.integer(14); });
            out.wrapped(context(0), [&] { out.integer(5); });
        });
    });
}

}  // namespace easgate::delegation
