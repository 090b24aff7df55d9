#include "easgate/upstream/kerberos_error_token.hpp"

#include <openssl/evp.h>

#include <algorithm>
#include <array>
#include <utility>

#include "easgate/common/text.hpp"

namespace easgate::upstream {
namespace {

// Reads DER elements one after another: definite lengths only, as DER has them.
class DerReader {
public:
    explicit DerReader(std::string_view der) : rest_(der) {}

    // What is left to read, as bytes.
    std::string_view rest() const { return rest_; }

    // The next element's tag and content; nullopt (and nothing more to read) when malformed.
    std::optional<std::pair<std::uint8_t, std::string_view>> next() {
        if (rest_.size() < 2) return fail();
        const auto tag = static_cast<std::uint8_t>(rest_[0]);
        std::size_t length = static_cast<std::uint8_t>(rest_[1]);
        std::size_t header = 2;
        if (length >= 0x80) {
            const std::size_t count = length & 0x7f;
            if (count == 0 || count > 3 || rest_.size() < 2 + count) return fail();
            length = 0;
            for (std::size_t i = 0; i < count; ++i)
                length = length << 8 | static_cast<std::uint8_t>(rest_[2 + i]);
            header += count;
        }
        if (rest_.size() - header < length) return fail();
        const auto content = rest_.substr(header, length);
        rest_.remove_prefix(header + length);
        return std::pair{tag, content};
    }

    // The content of the next element when it has this tag.
    std::optional<std::string_view> next(std::uint8_t tag) {
        const auto element = next();
        if (!element || element->first != tag) return std::nullopt;
        return element->second;
    }

private:
    std::nullopt_t fail() {
        rest_ = {};
        return std::nullopt;
    }

    std::string_view rest_;
};

constexpr std::uint8_t der_integer = 0x02;
constexpr std::uint8_t der_octet_string = 0x04;
constexpr std::uint8_t der_oid = 0x06;
constexpr std::uint8_t der_sequence = 0x30;
constexpr std::uint8_t der_general_string = 0x1b;
constexpr std::uint8_t context(unsigned number) { return static_cast<std::uint8_t>(0xa0 + number); }

std::optional<std::int64_t> integer(std::string_view content) {
    if (content.empty() || content.size() > 4) return std::nullopt;
    std::int64_t value = static_cast<signed char>(content[0]);
    for (std::size_t i = 1; i < content.size(); ++i)
        value = value * 256 + static_cast<std::uint8_t>(content[i]);
    return value;
}

// The characters of SPNs and realms ("HTTP/mail.example.com@EXAMPLE.COM", a port after ':'): the
// name goes into the log and a remedy's setspn command, and the backend chose it.
bool spn_characters(std::string_view text) {
    return std::all_of(text.begin(), text.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
               c == '-' || c == '_' || c == '$' || c == ':';  // HTTP/mail.example.com:8443
    });
}

constexpr std::size_t longest_name = 256;

// PrincipalName ::= SEQUENCE { name-type [0] Int32, name-string [1] SEQUENCE OF KerberosString };
// empty when a part is not plain or the whole is too long.
std::string principal_name(std::string_view content) {
    DerReader fields(content);
    std::string name;
    while (const auto field = fields.next()) {
        if (field->first != context(1)) continue;
        DerReader sequence(field->second);
        DerReader parts(sequence.next(der_sequence).value_or(""));
        while (const auto part = parts.next(der_general_string)) {
            if (part->empty() || !spn_characters(*part) || name.size() + part->size() >= longest_name)
                return {};
            if (!name.empty()) name += '/';  // piece by piece: GCC 12 misreads "/" + part (-Wrestrict)
            name += *part;
        }
    }
    return name;
}

// KRB-ERROR ::= [APPLICATION 30] SEQUENCE { ... error-code [6], realm [9], sname [10], ... }
std::optional<KerberosErrorToken> read_krb_error(std::string_view der) {
    DerReader outer(der);
    DerReader message(outer.next(0x7e).value_or(""));
    const auto sequence = message.next(der_sequence);
    if (!sequence) return std::nullopt;
    std::optional<std::int64_t> code;
    std::string realm;
    std::string service;
    DerReader fields(*sequence);
    while (const auto field = fields.next()) {
        DerReader value(field->second);
        if (field->first == context(6)) code = integer(value.next(der_integer).value_or(""));
        if (field->first == context(9)) realm = value.next(der_general_string).value_or("");
        if (field->first == context(10)) service = principal_name(value.next(der_sequence).value_or(""));
    }
    if (!code || *code < 0 || *code > 1000) return std::nullopt;
    KerberosErrorToken error{.code = static_cast<int>(*code), .service = {}};
    if (!service.empty() && !realm.empty() && spn_characters(realm) &&
        service.size() + realm.size() < longest_name)
        error.service = service + "@" + realm;
    return error;
}

// RFC 2743 3.1 framing around the krb5 mechanism's error token (TOK_ID 03 00).
std::optional<KerberosErrorToken> read_error_token(std::string_view token) {
    DerReader outer(token);
    DerReader framed(outer.next(0x60).value_or(""));
    if (!framed.next(der_oid)) return std::nullopt;
    // After the mechanism's OID: the token id bytes, then the KRB-ERROR (not one DER element).
    constexpr std::string_view error_token_id{"\x03\x00", 2};
    if (!framed.rest().starts_with(error_token_id)) return std::nullopt;
    return read_krb_error(framed.rest().substr(error_token_id.size()));
}

// The error token bare, or as SPNEGO's NegTokenResp carries it ([1] SEQUENCE { ..., responseToken
// [2] OCTET STRING, ... }): one level, never a NegTokenResp inside another.
std::optional<KerberosErrorToken> read_token(std::string_view token) {
    DerReader outer(token);
    const auto element = outer.next();
    if (!element || element->first != context(1)) return read_error_token(token);
    DerReader response(element->second);
    DerReader fields(response.next(der_sequence).value_or(""));
    while (const auto field = fields.next()) {
        if (field->first != context(2)) continue;
        DerReader inner(field->second);
        const auto mechanism_token = inner.next(der_octet_string);
        return mechanism_token ? read_error_token(*mechanism_token) : std::nullopt;
    }
    return std::nullopt;
}

std::optional<std::string> base64_decoded(std::string_view text) {
    if (text.empty() || text.size() % 4 != 0 || text.size() > 16384) return std::nullopt;
    std::string bytes(text.size() / 4 * 3, '\0');
    const int length =
        EVP_DecodeBlock(reinterpret_cast<unsigned char*>(bytes.data()),
                        reinterpret_cast<const unsigned char*>(text.data()), static_cast<int>(text.size()));
    if (length < 0) return std::nullopt;
    // EVP_DecodeBlock counts padding as zero bytes.
    const std::size_t padding = text.size() - (text.find_last_not_of('=') + 1);
    bytes.resize(static_cast<std::size_t>(length) - std::min<std::size_t>(padding, 2));
    return bytes;
}

}  // namespace

std::optional<KerberosErrorToken> kerberos_error_in(const std::vector<std::string_view>& challenges) {
    constexpr std::string_view scheme = "Negotiate ";
    for (auto challenge : challenges) {
        challenge.remove_prefix(std::min(challenge.find_first_not_of(" \t"), challenge.size()));
        if (!common::equals_ignoring_case(challenge.substr(0, scheme.size()), scheme)) continue;
        challenge.remove_prefix(scheme.size());
        const auto token = challenge.substr(0, challenge.find_first_of(" \t,"));
        if (const auto bytes = base64_decoded(token))
            if (auto error = read_token(*bytes)) return error;
    }
    return std::nullopt;
}

std::string kerberos_error_name(int code) {
    static constexpr std::array<std::pair<int, std::string_view>, 24> names{{
        {14, "KDC_ERR_ETYPE_NOSUPP"},     {31, "KRB_AP_ERR_BAD_INTEGRITY"}, {32, "KRB_AP_ERR_TKT_EXPIRED"},
        {33, "KRB_AP_ERR_TKT_NYV"},       {34, "KRB_AP_ERR_REPEAT"},        {35, "KRB_AP_ERR_NOT_US"},
        {36, "KRB_AP_ERR_BADMATCH"},      {37, "KRB_AP_ERR_SKEW"},          {38, "KRB_AP_ERR_BADADDR"},
        {39, "KRB_AP_ERR_BADVERSION"},    {40, "KRB_AP_ERR_MSG_TYPE"},      {41, "KRB_AP_ERR_MODIFIED"},
        {42, "KRB_AP_ERR_BADORDER"},      {44, "KRB_AP_ERR_BADKEYVER"},     {45, "KRB_AP_ERR_NOKEY"},
        {46, "KRB_AP_ERR_MUT_FAIL"},      {47, "KRB_AP_ERR_BADDIRECTION"},  {48, "KRB_AP_ERR_METHOD"},
        {49, "KRB_AP_ERR_BADSEQ"},        {50, "KRB_AP_ERR_INAPP_CKSUM"},   {51, "KRB_AP_PATH_NOT_ACCEPTED"},
        {52, "KRB_ERR_RESPONSE_TOO_BIG"}, {60, "KRB_ERR_GENERIC"},          {61, "KRB_ERR_FIELD_TOOLONG"},
    }};
    for (const auto& [number, name] : names)
        if (number == code) return std::string(name) + " (" + std::to_string(code) + ")";
    return "Kerberos error " + std::to_string(code);
}

}  // namespace easgate::upstream
