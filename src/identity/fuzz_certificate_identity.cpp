// libFuzzer entry point: arbitrary bytes as a device certificate. Besides crashes (ASan/UBSan
// builds), it aborts when a result breaks the contract the TLS path relies on.
//
// Random bytes rarely survive d2i_X509, so the custom mutator below works on the decoded
// certificate instead: it inserts, removes, replaces and repeats the SAN entries, the SID extension,
// EKUs, name attributes, key identifiers and the serial with OpenSSL's own types, then re-encodes
// (the signature no longer matches, which extraction never checks). A quarter of the mutations,
// and every input that does not decode, get libFuzzer's byte-level mutations instead.

#include <openssl/asn1.h>
#include <openssl/objects.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <string_view>

#include "easgate/common/openssl_ptr.hpp"
#include "easgate/identity/certificate_identity.hpp"

extern "C" std::size_t LLVMFuzzerMutate(std::uint8_t* data, std::size_t size, std::size_t max_size);

namespace {

using X509Ptr = easgate::common::OpenSslPtr<X509, X509_free>;
using ObjectPtr = easgate::common::OpenSslPtr<ASN1_OBJECT, ASN1_OBJECT_free>;
using OctetStringPtr = easgate::common::OpenSslPtr<ASN1_OCTET_STRING, ASN1_OCTET_STRING_free>;
using GeneralNamesPtr = easgate::common::OpenSslPtr<GENERAL_NAMES, GENERAL_NAMES_free>;
using ExtendedKeyUsagePtr = easgate::common::OpenSslPtr<EXTENDED_KEY_USAGE, EXTENDED_KEY_USAGE_free>;
using AuthorityKeyIdPtr = easgate::common::OpenSslPtr<AUTHORITY_KEYID, AUTHORITY_KEYID_free>;
using ExtensionPtr = easgate::common::OpenSslPtr<X509_EXTENSION, X509_EXTENSION_free>;

using Random = std::mt19937;

std::size_t pick(Random& random, std::size_t count) {
    return std::uniform_int_distribution<std::size_t>(0, count - 1)(random);
}
bool one_in(Random& random, std::size_t count) { return pick(random, count) == 0; }

constexpr std::string_view san_oid = "2.5.29.17";
constexpr std::string_view upn_oid = "1.3.6.1.4.1.311.20.2.3";
constexpr std::string_view sid_extension_oid = "1.3.6.1.4.1.311.25.2";
constexpr std::string_view object_sid_oid = "1.3.6.1.4.1.311.25.2.1";
// The OIDs extraction looks for, their near misses, and EKUs device certificates carry.
constexpr std::array<std::string_view, 10> oids{upn_oid,
                                                object_sid_oid,
                                                "1.3.6.1.4.1.311.20.2.33",
                                                "1.3.6.1.4.1.311.20.2",
                                                "1.3.6.1.4.1.311.25.2.2",
                                                "1.3.6.1.5.5.7.3.2",
                                                "1.3.6.1.5.5.7.3.4",
                                                "1.3.6.1.4.1.311.20.2.2",
                                                "2.5.29.37.0",
                                                "1.3.6.1.4.1.311.10.3.4"};

// Pieces of names and SIDs, and what a name check must refuse: broken or overlong UTF-8, C0 and
// C1 controls, NUL, and RFC 2253 specials.
constexpr std::array<std::string_view, 24> text_pieces{"alice",
                                                       "@",
                                                       "corp.example.com",
                                                       "example.com",
                                                       "S-1-5-21-",
                                                       "3623811015",
                                                       "-",
                                                       "1013",
                                                       "\xc3\xa9",
                                                       "\xc3",
                                                       "\xed\xa0\x80",
                                                       "\xf0\x9f\x93\xa7",
                                                       "\xc2\x85",
                                                       "\r\n",
                                                       {"\0", 1},
                                                       "\x7f",
                                                       "\xc0\xae",
                                                       "\xf4\x90\x80\x80",
                                                       ",",
                                                       "+\"\\<>;",
                                                       "#",
                                                       " ",
                                                       "S-1-",
                                                       "S-1-5--1"};

std::string random_text(Random& random) {
    std::string text;
    for (std::size_t parts = pick(random, 6); parts > 0; --parts)
        text += text_pieces[pick(random, text_pieces.size())];
    if (one_in(random, 8)) text.append(250 + pick(random, 12), 'a');  // around max_name_bytes
    if (one_in(random, 8)) {
        for (std::size_t bytes = pick(random, 16); bytes > 0; --bytes)
            text += static_cast<char>(pick(random, 256));
    }
    return text;
}

ObjectPtr object(std::string_view dotted) { return ObjectPtr(OBJ_txt2obj(std::string(dotted).c_str(), 1)); }

// An ASN1_STRING of `type` holding random text; owned by the caller.
ASN1_STRING* random_string(Random& random, int type) {
    ASN1_STRING* string = ASN1_STRING_type_new(type);
    const std::string text = random_text(random);
    if (string != nullptr) ASN1_STRING_set(string, text.data(), static_cast<int>(text.size()));
    return string;
}

constexpr std::array<int, 9> value_types{V_ASN1_UTF8STRING,      V_ASN1_IA5STRING,    V_ASN1_PRINTABLESTRING,
                                         V_ASN1_BMPSTRING,       V_ASN1_OCTET_STRING, V_ASN1_T61STRING,
                                         V_ASN1_UNIVERSALSTRING, V_ASN1_INTEGER,      V_ASN1_SEQUENCE};

// An otherName with `oid` whose value is usually of `usual_type`, sometimes any other.
GENERAL_NAME* random_other_name(Random& random, std::string_view oid, int usual_type) {
    GENERAL_NAME* name = GENERAL_NAME_new();
    ASN1_TYPE* value = ASN1_TYPE_new();
    ObjectPtr type_id = object(one_in(random, 8) ? oids[pick(random, oids.size())] : oid);
    if (name == nullptr || value == nullptr || !type_id) {
        GENERAL_NAME_free(name);
        ASN1_TYPE_free(value);
        return nullptr;
    }
    const int type = one_in(random, 4) ? value_types[pick(random, value_types.size())] : usual_type;
    ASN1_TYPE_set(value, type, random_string(random, type));
    GENERAL_NAME_set0_othername(name, type_id.release(), value);
    return name;
}

GENERAL_NAME* random_general_name(Random& random, std::string_view other_name_oid, int other_name_type) {
    switch (pick(random, 6)) {
        case 0:
        case 1:
            return random_other_name(random, other_name_oid, other_name_type);
        default: {
            constexpr std::array<int, 4> kinds{GEN_EMAIL, GEN_EMAIL, GEN_DNS, GEN_URI};
            const int kind = kinds[pick(random, kinds.size())];
            GENERAL_NAME* name = GENERAL_NAME_new();
            if (name != nullptr) GENERAL_NAME_set0_value(name, kind, random_string(random, V_ASN1_IA5STRING));
            return name;
        }
    }
}

// The one GeneralNames extension with `oid` decoded, or an empty list when it is absent or broken.
GeneralNamesPtr general_names(X509* cert, const ASN1_OBJECT* oid) {
    GeneralNamesPtr names;
    if (const int index = X509_get_ext_by_OBJ(cert, oid, -1); index >= 0) {
        const ASN1_OCTET_STRING* data = X509_EXTENSION_get_data(X509_get_ext(cert, index));
        const unsigned char* cursor = ASN1_STRING_get0_data(data);
        names.reset(d2i_GENERAL_NAMES(nullptr, &cursor, ASN1_STRING_length(data)));
    }
    if (!names) names.reset(GENERAL_NAMES_new());
    return names;
}

// Replaces every extension with `oid` by one holding `der` or, one time in 16, adds another.
void put_extension(Random& random, X509* cert, const ASN1_OBJECT* oid, std::string der) {
    if (!one_in(random, 16)) {
        for (int index; (index = X509_get_ext_by_OBJ(cert, oid, -1)) >= 0;)
            X509_EXTENSION_free(X509_delete_ext(cert, index));
    }
    if (one_in(random, 16) && !der.empty()) der.resize(pick(random, der.size()));  // truncated DER
    const OctetStringPtr data(ASN1_OCTET_STRING_new());
    if (!data || !ASN1_OCTET_STRING_set(data.get(), reinterpret_cast<const unsigned char*>(der.data()),
                                        static_cast<int>(der.size())))
        return;
    const ExtensionPtr extension(X509_EXTENSION_create_by_OBJ(nullptr, oid, one_in(random, 4), data.get()));
    if (extension) X509_add_ext(cert, extension.get(), -1);
}

template <typename T, typename Encode>
std::string encode(const T* value, Encode i2d) {
    const int length = i2d(value, nullptr);
    if (length <= 0) return {};
    std::string der(static_cast<std::size_t>(length), '\0');
    auto* cursor = reinterpret_cast<unsigned char*>(der.data());
    i2d(value, &cursor);
    return der;
}

// Insert, remove, replace or repeat one entry of the SAN or the SID extension.
void mutate_general_names(Random& random, X509* cert, bool sid) {
    const ObjectPtr oid = object(sid ? sid_extension_oid : san_oid);
    if (!oid) return;
    const GeneralNamesPtr names = general_names(cert, oid.get());
    if (!names) return;
    const int count = sk_GENERAL_NAME_num(names.get());
    const int at = static_cast<int>(pick(random, static_cast<std::size_t>(count) + 1));
    const auto fresh = [&] {
        return sid ? random_other_name(random, object_sid_oid, V_ASN1_OCTET_STRING)
                   : random_general_name(random, upn_oid, V_ASN1_UTF8STRING);
    };
    switch (count == 0 ? 0 : pick(random, 4)) {
        case 0:
            if (GENERAL_NAME* name = fresh()) sk_GENERAL_NAME_insert(names.get(), name, at);
            break;
        case 1:
            GENERAL_NAME_free(sk_GENERAL_NAME_delete(names.get(), at % count));
            break;
        case 2:
            if (GENERAL_NAME* name = fresh()) {
                GENERAL_NAME_free(sk_GENERAL_NAME_value(names.get(), at % count));
                sk_GENERAL_NAME_set(names.get(), at % count, name);  // returns the new entry, not the old
            }
            break;
        default:
            if (GENERAL_NAME* copy = GENERAL_NAME_dup(sk_GENERAL_NAME_value(names.get(), at % count)))
                sk_GENERAL_NAME_insert(names.get(), copy, at);
            break;
    }
    put_extension(random, cert, oid.get(), encode(names.get(), i2d_GENERAL_NAMES));
}

void mutate_extended_key_usage(Random& random, X509* cert) {
    const ExtendedKeyUsagePtr usages(sk_ASN1_OBJECT_new_null());
    if (!usages) return;
    for (std::size_t count = pick(random, 5); count > 0; --count) {
        if (ObjectPtr usage = object(oids[pick(random, oids.size())]);
            usage && sk_ASN1_OBJECT_push(usages.get(), usage.get()))
            usage.release();
    }
    put_extension(random, cert, OBJ_nid2obj(NID_ext_key_usage), encode(usages.get(), i2d_EXTENDED_KEY_USAGE));
}

std::string random_bytes(Random& random, std::size_t max_count) {
    std::string bytes(pick(random, max_count + 1), '\0');
    for (char& byte : bytes) byte = static_cast<char>(pick(random, 256));
    return bytes;
}

void mutate_key_identifier(Random& random, X509* cert) {
    const OctetStringPtr key_id(ASN1_OCTET_STRING_new());
    const std::string bytes = random_bytes(random, 40);
    if (!key_id || !ASN1_OCTET_STRING_set(key_id.get(), reinterpret_cast<const unsigned char*>(bytes.data()),
                                          static_cast<int>(bytes.size())))
        return;
    if (one_in(random, 2)) {
        put_extension(random, cert, OBJ_nid2obj(NID_subject_key_identifier),
                      encode(key_id.get(), i2d_ASN1_OCTET_STRING));
        return;
    }
    const AuthorityKeyIdPtr authority(AUTHORITY_KEYID_new());
    if (!authority) return;
    authority->keyid = ASN1_OCTET_STRING_dup(key_id.get());
    put_extension(random, cert, OBJ_nid2obj(NID_authority_key_identifier),
                  encode(authority.get(), i2d_AUTHORITY_KEYID));
}

// Adds or removes an attribute of the subject or issuer, in a new or an existing RDN.
void mutate_name(Random& random, X509* cert) {
    X509_NAME* name = one_in(random, 2) ? X509_get_subject_name(cert) : X509_get_issuer_name(cert);
    const int count = X509_NAME_entry_count(name);
    if (count > 0 && one_in(random, 3)) {
        X509_NAME_ENTRY_free(X509_NAME_delete_entry(name, static_cast<int>(pick(random, count))));
        return;
    }
    constexpr std::array<int, 8> attributes{
        NID_commonName,         NID_organizationName, NID_organizationalUnitName, NID_domainComponent,
        NID_pkcs9_emailAddress, NID_userId,           NID_serialNumber,           NID_countryName};
    const int type = value_types[pick(random, value_types.size() - 2)];  // strings only
    const std::string text = random_text(random);
    const int at =
        one_in(random, 2) ? -1 : static_cast<int>(pick(random, static_cast<std::size_t>(count) + 1));
    const int set = count > 0 && one_in(random, 3) ? -1 : 0;  // -1 joins the RDN before
    X509_NAME_add_entry_by_NID(name, attributes[pick(random, attributes.size())], type,
                               reinterpret_cast<const unsigned char*>(text.data()),
                               static_cast<int>(text.size()), at, set);
}

void mutate_serial(Random& random, X509* cert) {
    const std::string bytes = random_bytes(random, 24);
    ASN1_INTEGER* serial = ASN1_INTEGER_new();
    if (serial == nullptr) return;
    ASN1_STRING_set(serial, bytes.data(), static_cast<int>(bytes.size()));
    if (one_in(random, 4)) serial->type = V_ASN1_NEG_INTEGER;
    X509_set_serialNumber(cert, serial);
    ASN1_INTEGER_free(serial);
}

void mutate_structure(Random& random, X509* cert) {
    switch (pick(random, 8)) {
        case 0:
        case 1:
        case 2:
            return mutate_general_names(random, cert, false);
        case 3:
        case 4:
            return mutate_general_names(random, cert, true);
        case 5:
            return mutate_name(random, cert);
        case 6:
            return one_in(random, 2) ? mutate_key_identifier(random, cert)
                                     : mutate_extended_key_usage(random, cert);
        default:
            return mutate_serial(random, cert);
    }
}

}  // namespace

extern "C" std::size_t LLVMFuzzerCustomMutator(std::uint8_t* data, std::size_t size, std::size_t max_size,
                                               unsigned int seed) {
    Random random(seed);
    const unsigned char* cursor = data;
    const X509Ptr cert(one_in(random, 4) ? nullptr : d2i_X509(nullptr, &cursor, static_cast<long>(size)));
    if (!cert) return LLVMFuzzerMutate(data, size, max_size);
    for (std::size_t count = 1 + pick(random, 3); count > 0; --count) mutate_structure(random, cert.get());
    // Not every edit marks the certificate modified (name entries don't): encode it afresh.
    i2d_re_X509_tbs(cert.get(), nullptr);
    const std::string der = encode(cert.get(), i2d_X509);
    if (der.empty() || der.size() > max_size) return LLVMFuzzerMutate(data, size, max_size);
    std::memcpy(data, der.data(), der.size());
    return der.size();
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using easgate::identity::UserNames;
    const auto result = easgate::identity::extract_identity_from_der({data, size});
    // Exactly one of identity and error, and an identity always names someone.
    if (result.identity.has_value() == !result.error.empty()) std::abort();
    if (result && result.identity->principal_name().empty()) std::abort();
    // Where names are optional: the same certificate read, or refused for the same reason unless
    // that was the missing name; and a log line always has a word for its user.
    const auto optional = easgate::identity::extract_identity_from_der({data, size}, UserNames::optional);
    if (optional.identity.has_value() == !optional.error.empty()) std::abort();
    if (result && !optional) std::abort();
    if (!result && !optional && optional.error != result.error) std::abort();
    if (optional && optional.identity->display_name().empty()) std::abort();
    return 0;
}
