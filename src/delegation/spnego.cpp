#include "easgate/delegation/spnego.hpp"

#include <gssapi/gssapi.h>
#include <openssl/evp.h>

#include <array>
#include <cstdint>

#include "token_framing.hpp"

namespace easgate::delegation {
namespace {

// OID bodies (DER contents of the OBJECT IDENTIFIER).
constexpr std::string_view spnego_oid{"\x2b\x06\x01\x05\x05\x02", 6};                // 1.3.6.1.5.5.2
constexpr std::string_view kerberos_oid{"\x2a\x86\x48\x86\xf7\x12\x01\x02\x02", 9};  // 1.2.840.113554.1.2.2

}  // namespace

void wrap_in_spnego(der::BackwardWriter& out) {
    out.header(der::octet_string, out.written());  // mechToken
    out.header(der::context(2), out.written());
    out.wrapped(der::context(0), [&] {  // mechTypes: a SEQUENCE OF the one OID
        out.wrapped(der::sequence, [&] { out.tlv(der::object_identifier, kerberos_oid); });
    });
    out.header(der::sequence, out.written());  // NegTokenInit
    out.header(der::context(0), out.written());
    out.tlv(der::object_identifier, spnego_oid);
    out.header(der::application(0), out.written());
}

void frame_krb5_ap_req(der::BackwardWriter& out) {
    constexpr std::string_view ap_req_token_id{"\x01\x00", 2};
    out.bytes(ap_req_token_id);
    out.tlv(der::object_identifier, kerberos_oid);
    out.header(der::application(0), out.written());
}

std::string wrap_in_spnego(std::string_view kerberos_token) {
    der::BackwardWriter out(kerberos_token.size() + 64);
    out.bytes(kerberos_token);
    wrap_in_spnego(out);
    return std::move(out).take();
}

std::string gss_authenticator_checksum(std::string_view channel_binding) {
    constexpr std::uint32_t hash_length = 16;
    // As MIT's initiator sends for GSS_C_MUTUAL_FLAG (DelegatedCredential::make_token says why).
    constexpr std::uint32_t flags = GSS_C_MUTUAL_FLAG | GSS_C_CONF_FLAG | GSS_C_INTEG_FLAG | GSS_C_TRANS_FLAG;
    const auto append_le32 = [](std::string& out, std::uint32_t value) {
        for (int shift = 0; shift < 32; shift += 8) out += static_cast<char>((value >> shift) & 0xff);
    };
    std::string checksum;
    append_le32(checksum, hash_length);
    // The channel binding is the upstream server's (tls-server-end-point), the same for every token
    // to it: each thread keeps the last one's hash (EVP_Digest costs about 3,000 instructions).
    thread_local std::string last_binding;
    thread_local std::array<unsigned char, hash_length> last_hash{};
    std::array<unsigned char, hash_length> hash{};
    if (!channel_binding.empty() && channel_binding == last_binding) {
        hash = last_hash;
    } else if (!channel_binding.empty()) {
        // Initiator and acceptor address types and lengths (unspecified, no address), then the
        // application data's length and the data.
        std::string bindings;
        for (int field = 0; field < 2; ++field) {
            append_le32(bindings, GSS_C_AF_UNSPEC);
            append_le32(bindings, 0);
        }
        append_le32(bindings, static_cast<std::uint32_t>(channel_binding.size()));
        bindings += channel_binding;
        // Fetched once: EVP_md5() makes OpenSSL 3 look the algorithm up again on every digest.
        static const EVP_MD* const md5 = [] {
            const EVP_MD* fetched = EVP_MD_fetch(nullptr, "MD5", nullptr);
            return fetched != nullptr ? fetched : EVP_md5();
        }();
        if (EVP_Digest(bindings.data(), bindings.size(), hash.data(), nullptr, md5, nullptr) == 1) {
            last_binding = channel_binding;
            last_hash = hash;
        }
    }
    checksum.append(reinterpret_cast<const char*>(hash.data()), hash.size());
    append_le32(checksum, flags);
    return checksum;
}

}  // namespace easgate::delegation
