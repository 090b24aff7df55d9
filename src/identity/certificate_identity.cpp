#include "easgate/identity/certificate_identity.hpp"

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <cstdio>
#include <ctime>
#include <limits>
#include <memory>
#include <new>
#include <string_view>
#include <utility>

#include "easgate/common/openssl_ptr.hpp"
#include "easgate/common/text.hpp"
#include "easgate/identity/windows_name.hpp"

namespace easgate::identity {
namespace {

constexpr std::string_view subject_alt_name_oid = "2.5.29.17";
constexpr std::string_view upn_oid = "1.3.6.1.4.1.311.20.2.3";
// szOID_NTDS_CA_SECURITY_EXT holds GeneralNames with one otherName szOID_NTDS_OBJECTSID whose
// [0] value is an OCTET STRING of the SID text ([MS-WCCE] 2.2.2.7.7.4, as ADCS issues it).
constexpr std::string_view sid_extension_oid = "1.3.6.1.4.1.311.25.2";
constexpr std::string_view object_sid_oid = "1.3.6.1.4.1.311.25.2.1";
// KB5014754's other place for the SID, a SAN URL, for CAs that can't add the extension (Intune
// writes it from {{OnPremisesSecurityIdentifier}}). Matched ignoring case, so an issuer writing the
// scheme or domain in capitals still maps strongly; the SID after it is checked as the extension's.
constexpr std::string_view sid_url_prefix = "tag:microsoft.com,2022-09-14:sid:";
constexpr std::string_view not_sid_text = "is not \"S-1-\" and dash-separated decimal numbers";

// "S-1-", a 48-bit authority (15 digits), then at most 15 sub-authorities of "-" and 10 digits.
constexpr std::size_t max_sid_chars = 184;

using X509Ptr = common::OpenSslPtr<X509, X509_free>;
using BioPtr = common::OpenSslPtr<BIO, BIO_free>;
using BignumPtr = common::OpenSslPtr<BIGNUM, BN_free>;
using GeneralNamesPtr = common::OpenSslPtr<GENERAL_NAMES, GENERAL_NAMES_free>;

// Why a certificate cannot identify a user; empty when it can.
using Refusal = std::optional<std::string>;

// Decoding failures push onto the thread's OpenSSL error queue; a TLS call later on the same
// thread would read them as its own, so drop whatever the extraction added.
class OpenSslErrorScope {
public:
    OpenSslErrorScope() { ERR_set_mark(); }
    ~OpenSslErrorScope() { ERR_pop_to_mark(); }
    OpenSslErrorScope(const OpenSslErrorScope&) = delete;
    OpenSslErrorScope& operator=(const OpenSslErrorScope&) = delete;
};

IdentityResult refused(std::string reason) { return {.identity = std::nullopt, .error = std::move(reason)}; }

std::string_view bytes_of(const ASN1_STRING* text) {
    return {reinterpret_cast<const char*>(ASN1_STRING_get0_data(text)),
            static_cast<std::size_t>(ASN1_STRING_length(text))};
}

bool has_oid(const ASN1_OBJECT* object, std::string_view dotted_oid) {
    char text[64];
    const int length = OBJ_obj2txt(text, sizeof text, object, 1);
    // A longer OID does not fit and cannot be one of ours.
    return length > 0 && static_cast<std::size_t>(length) < sizeof text &&
           std::string_view(text, static_cast<std::size_t>(length)) == dotted_oid;
}

enum class NameCharset { ascii, utf8 };

std::string hex_code(unsigned long code_point) {
    char text[16];
    std::snprintf(text, sizeof text, "%04lX", code_point);
    return text;
}

// UPNs and emails go into directory filters and logs: refuse whatever could split a line, hide
// text or be decoded differently by the next reader.
Refusal check_name(std::string_view field, std::string_view name, NameCharset charset) {
    const std::string prefix = "certificate " + std::string(field);
    if (name.empty()) return prefix + " is empty";
    if (name.size() > max_name_bytes) {
        return prefix + " is longer than " + std::to_string(max_name_bytes) + " bytes";
    }
    const auto* bytes = reinterpret_cast<const unsigned char*>(name.data());
    for (std::size_t offset = 0; offset < name.size();) {
        if (charset == NameCharset::ascii && bytes[offset] > 0x7f) return prefix + " is not ASCII";
        unsigned long code_point = 0;
        const int length = UTF8_getc(bytes + offset, static_cast<int>(name.size() - offset), &code_point);
        if (length <= 0) return prefix + " is not valid UTF-8";
        if (code_point < 0x20 || (code_point >= 0x7f && code_point <= 0x9f)) {
            return prefix + " contains a control character";
        }
        // Line and paragraph separators, zero-width and direction marks and overrides: they end a
        // line for some readers, or show text in another order than it is stored.
        if ((code_point >= 0x200b && code_point <= 0x200f) ||
            (code_point >= 0x2028 && code_point <= 0x202e) ||
            (code_point >= 0x2060 && code_point <= 0x2069) || code_point == 0xfeff) {
            return prefix + " contains an invisible formatting character (U+" + hex_code(code_point) + ")";
        }
        offset += static_cast<std::size_t>(length);
    }
    return std::nullopt;
}

// "S-1-" then dash-separated decimal numbers, the way Windows writes a SID.
bool is_sid_text(std::string_view text) {
    constexpr std::string_view revision_prefix = "S-1-";
    if (text.size() > max_sid_chars || !text.starts_with(revision_prefix)) return false;
    bool number_started = false;
    for (const char character : text.substr(revision_prefix.size())) {
        if (character == '-') {
            if (!number_started) return false;
            number_started = false;
        } else if (character >= '0' && character <= '9') {
            number_started = true;
        } else {
            return false;
        }
    }
    return number_started;
}

// DER (not merely BER) is what X.509 requires; re-encoding shows whether the bytes were exactly
// that, so two parsers can never read different names from them.
bool is_strict_der(const GENERAL_NAMES* names, std::string_view encoded) {
    const int length = i2d_GENERAL_NAMES(names, nullptr);
    if (length < 0 || static_cast<std::size_t>(length) != encoded.size()) return false;
    std::string reencoded(encoded.size(), '\0');
    auto* cursor = reinterpret_cast<unsigned char*>(reencoded.data());
    return i2d_GENERAL_NAMES(names, &cursor) == length && reencoded == encoded;
}

// The GeneralNames inside the one extension with this OID: names stays empty when it is absent.
Refusal decode_general_names_extension(X509* cert, std::string_view dotted_oid, std::string_view field,
                                       GeneralNamesPtr& names) {
    const std::string prefix = "certificate " + std::string(field) + " extension";
    X509_EXTENSION* found = nullptr;
    for (int index = 0; index < X509_get_ext_count(cert); ++index) {
        X509_EXTENSION* extension = X509_get_ext(cert, index);
        if (!has_oid(X509_EXTENSION_get_object(extension), dotted_oid)) continue;
        if (found != nullptr) return prefix + " appears more than once";
        found = extension;
    }
    if (found == nullptr) return std::nullopt;

    const std::string_view encoded = bytes_of(X509_EXTENSION_get_data(found));
    auto cursor = reinterpret_cast<const unsigned char*>(encoded.data());
    names.reset(d2i_GENERAL_NAMES(nullptr, &cursor, static_cast<long>(encoded.size())));
    if (!names || !is_strict_der(names.get(), encoded)) return prefix + " is malformed";
    return std::nullopt;
}

Refusal read_upn(const OTHERNAME& other_name, std::string& upn) {
    if (other_name.value->type != V_ASN1_UTF8STRING) {
        return "certificate UPN (SAN otherName " + std::string(upn_oid) + ") is not a UTF8String";
    }
    // Two UPNs would leave the choice of user to whoever reads the certificate next.
    if (!upn.empty()) return "certificate has more than one UPN (ambiguous identity)";
    const std::string_view name = bytes_of(other_name.value->value.utf8string);
    if (auto refusal = check_name("UPN", name, NameCharset::utf8)) return refusal;
    upn = name;
    return std::nullopt;
}

Refusal read_email(const ASN1_IA5STRING* rfc822_name, std::vector<std::string>& emails) {
    const std::string_view name = bytes_of(rfc822_name);
    if (auto refusal = check_name("email", name, NameCharset::ascii)) return refusal;
    emails.emplace_back(name);
    return std::nullopt;
}

// A SID met again must be the same one: two that differ would leave the choice of user to whoever
// reads the certificate next, as two UPNs would.
Refusal add_sid(std::string_view found, std::string& sid) {
    if (sid.empty()) {
        sid = found;
    } else if (!common::equals_ignoring_case(sid, found)) {
        return "certificate has more than one SID (ambiguous identity)";
    }
    return std::nullopt;
}

// URIs other than the SID URL say nothing about the user and are skipped.
Refusal read_sid_url(const ASN1_IA5STRING* uri, std::string& sid) {
    const std::string_view url = bytes_of(uri);
    if (!common::equals_ignoring_case(url.substr(0, sid_url_prefix.size()), sid_url_prefix)) {
        return std::nullopt;
    }
    // Not a SID (an Intune variable that found none, say): it names no one, and the certificate maps
    // as it would without it.
    const std::string_view text = url.substr(sid_url_prefix.size());
    if (!is_sid_text(text)) return std::nullopt;
    return add_sid(text, sid);
}

Refusal read_subject_alt_names(X509* leaf, CertificateIdentity& identity) {
    GeneralNamesPtr names;
    if (auto refusal = decode_general_names_extension(leaf, subject_alt_name_oid, "SAN", names)) {
        return refusal;
    }
    for (int index = 0; names && index < sk_GENERAL_NAME_num(names.get()); ++index) {
        const GENERAL_NAME* name = sk_GENERAL_NAME_value(names.get(), index);
        Refusal refusal;
        if (name->type == GEN_EMAIL) {
            refusal = read_email(name->d.rfc822Name, identity.emails);
        } else if (name->type == GEN_OTHERNAME && has_oid(name->d.otherName->type_id, upn_oid)) {
            refusal = read_upn(*name->d.otherName, identity.upn);
        } else if (name->type == GEN_URI) {
            refusal = read_sid_url(name->d.uniformResourceIdentifier, identity.sid);
        }
        if (refusal) return refusal;
    }
    return std::nullopt;
}

// Entries other than the SID are skipped, so a future addition by Microsoft does not lock users out.
// sid may already hold the SAN URL's SID, which this one must then repeat.
Refusal read_sid_extension(X509* leaf, std::string& sid) {
    GeneralNamesPtr names;
    if (auto refusal = decode_general_names_extension(leaf, sid_extension_oid, "SID", names)) return refusal;
    if (!names) return std::nullopt;
    std::string extension_sid;
    for (int index = 0; index < sk_GENERAL_NAME_num(names.get()); ++index) {
        const GENERAL_NAME* name = sk_GENERAL_NAME_value(names.get(), index);
        if (name->type != GEN_OTHERNAME || !has_oid(name->d.otherName->type_id, object_sid_oid)) continue;
        if (!extension_sid.empty()) {
            return "certificate SID extension holds more than one SID (ambiguous identity)";
        }
        const ASN1_TYPE* value = name->d.otherName->value;
        if (value->type != V_ASN1_OCTET_STRING) return "certificate SID is not an OCTET STRING";
        const std::string_view text = bytes_of(value->value.octet_string);
        if (!is_sid_text(text)) return "certificate SID " + std::string(not_sid_text);
        extension_sid = text;
    }
    if (extension_sid.empty()) {
        return "certificate SID extension holds no SID (otherName " + std::string(object_sid_oid) + ")";
    }
    return add_sid(extension_sid, sid);
}

std::optional<std::string> rfc2253_name(const X509_NAME* name) {
    const BioPtr bio(BIO_new(BIO_s_mem()));
    if (!bio || X509_NAME_print_ex(bio.get(), name, 0, XN_FLAG_RFC2253) < 0) return std::nullopt;
    char* text = nullptr;
    const long length = BIO_get_mem_data(bio.get(), &text);
    return std::string(text, static_cast<std::size_t>(length));
}

std::optional<std::string> serial_hex(const ASN1_INTEGER* serial) {
    const BignumPtr number(ASN1_INTEGER_to_BN(serial, nullptr));
    const common::OpenSslString hex(number ? BN_bn2hex(number.get()) : nullptr);
    if (!hex) return std::nullopt;
    return std::string(hex.get());
}

std::optional<std::string> fingerprint(const X509* cert, const EVP_MD* digest) {
    unsigned char hash[EVP_MAX_MD_SIZE];
    unsigned int length = 0;
    if (X509_digest(cert, digest, hash, &length) != 1) return std::nullopt;
    return common::hex_encode({hash, length});
}

std::chrono::system_clock::time_point time_point_of(const ASN1_TIME* time) {
    std::tm utc{};
    if (time == nullptr || ASN1_TIME_to_tm(time, &utc) != 1) return {};
    return std::chrono::system_clock::from_time_t(timegm(&utc));
}

// What logs and audit records use to name the certificate itself.
Refusal read_description(X509* leaf, CertificateIdentity& identity) {
    auto subject = rfc2253_name(X509_get_subject_name(leaf));
    auto issuer = rfc2253_name(X509_get_issuer_name(leaf));
    auto serial = serial_hex(X509_get0_serialNumber(leaf));
    auto sha1 = fingerprint(leaf, EVP_sha1());
    auto sha256 = fingerprint(leaf, EVP_sha256());
    if (!subject || !issuer || !serial || !sha1 || !sha256) {
        return "certificate subject, issuer, serial or fingerprint cannot be encoded";
    }
    identity.subject = std::move(*subject);
    identity.issuer = std::move(*issuer);
    identity.issuer_as_windows = windows_name(X509_get_issuer_name(leaf)).value_or("");  // "": no X509:<I>
    identity.serial = std::move(*serial);
    identity.sha1_fingerprint = std::move(*sha1);
    identity.sha256_fingerprint = std::move(*sha256);
    if (const ASN1_OCTET_STRING* key_id = X509_get0_subject_key_id(leaf)) {
        identity.subject_key_id = common::hex_encode(bytes_of(key_id));
    }
    identity.not_before = time_point_of(X509_get0_notBefore(leaf));
    return std::nullopt;
}

IdentityResult read_identity(X509* leaf, UserNames names) {
    if (leaf == nullptr) return refused("no certificate");
    CertificateIdentity identity;
    if (auto refusal = read_subject_alt_names(leaf, identity)) return refused(std::move(*refusal));
    if (auto refusal = read_sid_extension(leaf, identity.sid)) return refused(std::move(*refusal));
    if (identity.upn.empty() && identity.emails.empty() && names == UserNames::required) {
        return refused(
            "certificate has no UPN (SAN otherName " + std::string(upn_oid) +
            ") and no email (SAN rfc822Name), and easgate has no other way to find its user (with a "
            "directory, list sid or alt_security_identities in identity.mapping to find accounts "
            "by the certificate's SID or in altSecurityIdentities)");
    }
    if (auto refusal = read_description(leaf, identity)) return refused(std::move(*refusal));
    return {.identity = std::move(identity), .error = {}};
}

IdentityResult read_identity_from_der(std::span<const std::uint8_t> der, UserNames names) {
    if (der.empty()) return refused("certificate DER is empty");
    if (der.size() > static_cast<std::size_t>(std::numeric_limits<long>::max())) {
        return refused("certificate DER is too large");
    }
    const unsigned char* cursor = der.data();
    const X509Ptr cert(d2i_X509(nullptr, &cursor, static_cast<long>(der.size())));
    if (!cert) return refused("certificate DER cannot be decoded");
    if (cursor != der.data() + der.size()) return refused("certificate DER has bytes after the certificate");
    return read_identity(cert.get(), names);
}

// Extraction runs on the TLS path: memory exhaustion becomes a refusal rather than an exception.
template <typename Read>
IdentityResult refusing_on_exhaustion(Read read) {
    const OpenSslErrorScope error_scope;
    try {
        return read();
    } catch (const std::bad_alloc&) {
        return refused("out of memory while reading the certificate identity");
    }
}

}  // namespace

IdentityResult extract_identity(X509* leaf, UserNames names) {
    return refusing_on_exhaustion([leaf, names] { return read_identity(leaf, names); });
}

IdentityResult extract_identity_from_der(std::span<const std::uint8_t> der, UserNames names) {
    return refusing_on_exhaustion([der, names] { return read_identity_from_der(der, names); });
}

}  // namespace easgate::identity
