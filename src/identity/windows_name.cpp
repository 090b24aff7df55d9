#include "easgate/identity/windows_name.hpp"

#include <openssl/crypto.h>
#include <openssl/objects.h>

#include <array>
#include <string_view>
#include <utility>

namespace easgate::identity {
namespace {

// CryptoAPI's X.500 keys ([MS-OSCO] 2.2.3 lists the same), by OpenSSL's NID.
constexpr std::array<std::pair<int, std::string_view>, 18> windows_keys{{
    {NID_commonName, "CN"},
    {NID_localityName, "L"},
    {NID_organizationName, "O"},
    {NID_organizationalUnitName, "OU"},
    {NID_pkcs9_emailAddress, "E"},
    {NID_countryName, "C"},
    {NID_stateOrProvinceName, "S"},
    {NID_streetAddress, "STREET"},
    {NID_title, "T"},
    {NID_givenName, "G"},
    {NID_initials, "I"},
    {NID_surname, "SN"},
    {NID_serialNumber, "SERIALNUMBER"},
    {NID_domainComponent, "DC"},
    {NID_description, "Description"},
    {NID_postalCode, "PostalCode"},
    {NID_postOfficeBox, "POBox"},
    {NID_telephoneNumber, "Phone"},
}};

std::string key_of(const ASN1_OBJECT* type) {
    const int nid = OBJ_obj2nid(type);
    for (const auto& [known, key] : windows_keys)
        if (known == nid) return std::string(key);
    std::array<char, 128> dotted{};
    OBJ_obj2txt(dotted.data(), dotted.size(), type, 1);
    return "OID." + std::string(dotted.data());
}

// CertNameToStr's rule: in double quotes when the value is empty, starts or ends with a space, or
// holds one of , + = " < > # ; or a line feed; a double quote inside is doubled.
std::string windows_quoted(std::string_view value) {
    const bool quote = value.empty() || value.front() == ' ' || value.back() == ' ' ||
                       value.find_first_of(",+=\"<>#;\n") != std::string_view::npos;
    if (!quote) return std::string(value);
    std::string out = "\"";
    for (const char c : value) out += c == '"' ? std::string("\"\"") : std::string(1, c);
    return out + "\"";
}

}  // namespace

std::optional<std::string> windows_name(const X509_NAME* name) {
    std::string out;
    int rdn = -1;
    for (int index = 0; index < X509_NAME_entry_count(name); ++index) {
        const X509_NAME_ENTRY* entry = X509_NAME_get_entry(name, index);
        unsigned char* utf8 = nullptr;
        const int length = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(entry));
        if (length < 0) return std::nullopt;
        const std::string value(reinterpret_cast<const char*>(utf8), static_cast<std::size_t>(length));
        OPENSSL_free(utf8);
        // The attributes of one multi-valued RDN share its set number.
        const int set = X509_NAME_ENTRY_set(entry);
        if (index > 0) out += set == rdn ? " + " : ",";
        rdn = set;
        out += key_of(X509_NAME_ENTRY_get_object(entry)) + "=" + windows_quoted(value);
    }
    return out;
}

}  // namespace easgate::identity
