// DER building blocks of the test PKI, and reading its PEM back.
#include <openssl/objects.h>
#include <openssl/pem.h>

#include <stdexcept>

#include "test_pki.hpp"

namespace easgate::testing {
namespace {

std::vector<std::uint8_t> der_length(std::size_t length) {
    if (length < 0x80) return {static_cast<std::uint8_t>(length)};
    std::vector<std::uint8_t> digits;
    for (; length > 0; length >>= 8) digits.insert(digits.begin(), static_cast<std::uint8_t>(length & 0xff));
    digits.insert(digits.begin(), static_cast<std::uint8_t>(0x80 | digits.size()));
    return digits;
}

}  // namespace

std::vector<std::uint8_t> der_tlv(std::uint8_t tag,
                                  std::initializer_list<std::vector<std::uint8_t>> content) {
    std::vector<std::uint8_t> value;
    for (const auto& part : content) value.insert(value.end(), part.begin(), part.end());
    std::vector<std::uint8_t> encoded{tag};
    const auto length = der_length(value.size());
    encoded.insert(encoded.end(), length.begin(), length.end());
    encoded.insert(encoded.end(), value.begin(), value.end());
    return encoded;
}

std::vector<std::uint8_t> der_text(std::string_view text) { return {text.begin(), text.end()}; }

std::vector<std::uint8_t> der_oid(const std::string& dotted_oid) {
    const common::OpenSslPtr<ASN1_OBJECT, ASN1_OBJECT_free> oid(OBJ_txt2obj(dotted_oid.c_str(), 1));
    const int length = oid ? i2d_ASN1_OBJECT(oid.get(), nullptr) : 0;
    if (length <= 0) throw std::runtime_error("test PKI: OID " + dotted_oid + " can't be encoded");
    std::vector<std::uint8_t> encoded(static_cast<std::size_t>(length));
    unsigned char* cursor = encoded.data();
    i2d_ASN1_OBJECT(oid.get(), &cursor);
    return encoded;
}

std::vector<std::uint8_t> der_other_name(const std::string& type_id, const std::vector<std::uint8_t>& value) {
    return der_tlv(0xa0, {der_oid(type_id), der_tlv(0xa0, {value})});
}

common::OpenSslPtr<X509, X509_free> parse_certificate_pem(const std::string& pem) {
    const common::OpenSslPtr<BIO, BIO_free> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
    return common::OpenSslPtr<X509, X509_free>(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
}

}  // namespace easgate::testing
