#include "test_pki.hpp"

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <ctime>
#include <stdexcept>
#include <utility>

#include "easgate/common/openssl_ptr.hpp"

namespace easgate::testing {
namespace {

constexpr std::chrono::seconds one_hour{3600}, one_day = 24 * one_hour, ca_lifetime = 10 * 365 * one_day;

using Asn1IntegerPtr = common::OpenSslPtr<ASN1_INTEGER, ASN1_INTEGER_free>;
using Asn1ObjectPtr = common::OpenSslPtr<ASN1_OBJECT, ASN1_OBJECT_free>;
using Asn1OctetStringPtr = common::OpenSslPtr<ASN1_OCTET_STRING, ASN1_OCTET_STRING_free>;
using Asn1StringPtr = common::OpenSslPtr<ASN1_STRING, ASN1_STRING_free>;
using Asn1TimePtr = common::OpenSslPtr<ASN1_TIME, ASN1_TIME_free>;
using Asn1TypePtr = common::OpenSslPtr<ASN1_TYPE, ASN1_TYPE_free>;
using BioPtr = common::OpenSslPtr<BIO, BIO_free>;
using Asn1EnumeratedPtr = common::OpenSslPtr<ASN1_ENUMERATED, ASN1_ENUMERATED_free>;
using BignumPtr = common::OpenSslPtr<BIGNUM, BN_free>;
using EvpPkeyPtr = common::OpenSslPtr<EVP_PKEY, EVP_PKEY_free>;
using GeneralNamePtr = common::OpenSslPtr<GENERAL_NAME, GENERAL_NAME_free>;
using GeneralNamesPtr = common::OpenSslPtr<GENERAL_NAMES, GENERAL_NAMES_free>;
using common::OpenSslString;
using X509CrlPtr = common::OpenSslPtr<X509_CRL, X509_CRL_free>;
using X509ExtensionPtr = common::OpenSslPtr<X509_EXTENSION, X509_EXTENSION_free>;
using X509Ptr = common::OpenSslPtr<X509, X509_free>;
using X509RevokedPtr = common::OpenSslPtr<X509_REVOKED, X509_REVOKED_free>;

void check(bool succeeded, const std::string& what) {
    if (succeeded) return;
    char reason[256] = "no OpenSSL error";
    if (const unsigned long code = ERR_get_error()) ERR_error_string_n(code, reason, sizeof reason);
    ERR_clear_error();
    throw std::runtime_error("test PKI: " + what + " failed: " + reason);
}

template <typename T>
T* checked(T* object, const std::string& what) {
    check(object != nullptr, what);
    return object;
}

EvpPkeyPtr generate_key() { return EvpPkeyPtr(checked(EVP_EC_gen("P-256"), "P-256 key generation")); }

template <typename WritePem>
std::string to_pem(WritePem write_pem, const std::string& what) {
    const BioPtr bio(checked(BIO_new(BIO_s_mem()), "BIO_new"));
    check(write_pem(bio.get()) == 1, "writing " + what + " PEM");
    char* text = nullptr;
    const long length = BIO_get_mem_data(bio.get(), &text);
    return std::string(text, static_cast<std::size_t>(length));
}

std::string certificate_pem(X509* cert) {
    return to_pem([cert](BIO* bio) { return PEM_write_bio_X509(bio, cert); }, "certificate");
}

// PEM_write_bio_PrivateKey writes unencrypted PKCS#8 ("BEGIN PRIVATE KEY") in OpenSSL 3.
std::string private_key_pem(EVP_PKEY* key) {
    return to_pem(
        [key](BIO* bio) { return PEM_write_bio_PrivateKey(bio, key, nullptr, nullptr, 0, nullptr, nullptr); },
        "private key");
}

std::vector<std::uint8_t> certificate_der(X509* cert) {
    const int length = i2d_X509(cert, nullptr);
    check(length > 0, "i2d_X509");
    std::vector<std::uint8_t> der(static_cast<std::size_t>(length));
    unsigned char* cursor = der.data();
    check(i2d_X509(cert, &cursor) == length, "i2d_X509");
    return der;
}

std::string serial_hex(const X509* cert) {
    const BignumPtr serial(checked(ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), nullptr), "serial"));
    const OpenSslString hex(checked(BN_bn2hex(serial.get()), "BN_bn2hex"));
    return hex.get();
}

Asn1IntegerPtr serial_from_hex(const std::string& hex) {
    BIGNUM* parsed = nullptr;
    check(BN_hex2bn(&parsed, hex.c_str()) > 0, "parsing serial " + hex);
    const BignumPtr serial(parsed);
    return Asn1IntegerPtr(checked(BN_to_ASN1_INTEGER(serial.get(), nullptr), "BN_to_ASN1_INTEGER"));
}

// 127 random bits with the top one set: positive, 16 DER bytes, never repeated in practice.
void set_random_serial(X509* cert) {
    const BignumPtr serial(checked(BN_new(), "BN_new"));
    check(BN_rand(serial.get(), 127, BN_RAND_TOP_ONE, BN_RAND_BOTTOM_ANY) == 1, "BN_rand");
    check(BN_to_ASN1_INTEGER(serial.get(), X509_get_serialNumber(cert)) != nullptr, "setting the serial");
}

Asn1TimePtr time_from_now(std::chrono::seconds offset) {
    return Asn1TimePtr(
        checked(X509_gmtime_adj(nullptr, static_cast<long>(offset.count())), "X509_gmtime_adj"));
}

// An unsigned certificate; issuer is null for a self-signed one.
X509Ptr new_certificate(const std::string& common_name, EVP_PKEY* key, X509* issuer,
                        std::chrono::seconds not_before, std::chrono::seconds not_after) {
    X509Ptr cert(checked(X509_new(), "X509_new"));
    check(X509_set_version(cert.get(), X509_VERSION_3) == 1, "X509_set_version");
    set_random_serial(cert.get());
    X509_NAME* subject = X509_get_subject_name(cert.get());
    const auto* name_bytes = reinterpret_cast<const unsigned char*>(common_name.c_str());
    check(X509_NAME_add_entry_by_txt(subject, "CN", MBSTRING_UTF8, name_bytes, -1, -1, 0) == 1, "subject CN");
    check(X509_set_issuer_name(cert.get(), issuer ? X509_get_subject_name(issuer) : subject) == 1, "issuer");
    check(X509_set1_notBefore(cert.get(), time_from_now(not_before).get()) == 1, "notBefore");
    check(X509_set1_notAfter(cert.get(), time_from_now(not_after).get()) == 1, "notAfter");
    check(X509_set_pubkey(cert.get(), key) == 1, "X509_set_pubkey");
    return cert;
}

// An extension in openssl.cnf syntax, e.g. "critical,CA:TRUE"; issuer is the signer's certificate.
void add_config_extension(X509* cert, X509* issuer, int nid, const char* value) {
    X509V3_CTX context;
    X509V3_set_ctx_nodb(&context);
    X509V3_set_ctx(&context, issuer, cert, nullptr, nullptr, 0);
    const X509ExtensionPtr extension(checked(X509V3_EXT_conf_nid(nullptr, &context, nid, value), value));
    check(X509_add_ext(cert, extension.get(), -1) == 1, value);
}

void add_raw_extension(X509* cert, const RawExtension& raw) {
    const Asn1ObjectPtr oid(checked(OBJ_txt2obj(raw.oid.c_str(), 1), "OID " + raw.oid));
    const Asn1OctetStringPtr value(checked(ASN1_OCTET_STRING_new(), "ASN1_OCTET_STRING_new"));
    check(ASN1_OCTET_STRING_set(value.get(), raw.der.data(), static_cast<int>(raw.der.size())) == 1,
          "extension value");
    const X509ExtensionPtr extension(
        checked(X509_EXTENSION_create_by_OBJ(nullptr, oid.get(), raw.critical ? 1 : 0, value.get()),
                "extension " + raw.oid));
    check(X509_add_ext(cert, extension.get(), -1) == 1, "adding extension " + raw.oid);
}

void push_name(GENERAL_NAMES* names, GeneralNamePtr name) {
    check(sk_GENERAL_NAME_push(names, name.get()) > 0, "sk_GENERAL_NAME_push");
    name.release();
}

// ASN1_STRING_set keeps embedded NULs and control characters, which tests put in names.
Asn1StringPtr asn1_string(int string_type, const std::string& value) {
    Asn1StringPtr text(checked(ASN1_STRING_type_new(string_type), "ASN1_STRING_type_new"));
    check(ASN1_STRING_set(text.get(), value.data(), static_cast<int>(value.size())) == 1, "ASN1_STRING_set");
    return text;
}

GeneralNamePtr ia5_name(int type, const std::string& value) {
    GeneralNamePtr name(checked(GENERAL_NAME_new(), "GENERAL_NAME_new"));
    GENERAL_NAME_set0_value(name.get(), type, asn1_string(V_ASN1_IA5STRING, value).release());
    return name;
}

// One distribution point named by url, for a CDP or a Freshest CRL extension. Built rather than
// configured: an ldap:/// URL's commas would split a configuration string.
common::OpenSslPtr<CRL_DIST_POINTS, CRL_DIST_POINTS_free> distribution_points(const std::string& url) {
    common::OpenSslPtr<CRL_DIST_POINTS, CRL_DIST_POINTS_free> points(
        checked(sk_DIST_POINT_new_null(), "sk_DIST_POINT_new_null"));
    DIST_POINT* point = checked(DIST_POINT_new(), "DIST_POINT_new");
    check(sk_DIST_POINT_push(points.get(), point) > 0, "sk_DIST_POINT_push");
    point->distpoint = checked(DIST_POINT_NAME_new(), "DIST_POINT_NAME_new");
    point->distpoint->type = 0;  // fullName (a new CHOICE has none chosen)
    point->distpoint->name.fullname = checked(GENERAL_NAMES_new(), "GENERAL_NAMES_new");
    push_name(point->distpoint->name.fullname, ia5_name(GEN_URI, url));
    return points;
}

// The CRL Distribution Point AD CS writes into every certificate it issues: its CA's CRL URL.
void add_distribution_point(X509* cert, const std::string& url) {
    check(X509_add1_ext_i2d(cert, NID_crl_distribution_points, distribution_points(url).get(), 0, 0) == 1,
          url);
}

GeneralNamePtr upn_name(const std::string& upn) {
    Asn1TypePtr value(checked(ASN1_TYPE_new(), "ASN1_TYPE_new"));
    ASN1_TYPE_set(value.get(), V_ASN1_UTF8STRING, asn1_string(V_ASN1_UTF8STRING, upn).release());
    Asn1ObjectPtr type_id(checked(OBJ_txt2obj(upn_oid, 1), "UPN OID"));
    GeneralNamePtr name(checked(GENERAL_NAME_new(), "GENERAL_NAME_new"));
    check(GENERAL_NAME_set0_othername(name.get(), type_id.get(), value.get()) == 1, "UPN otherName");
    type_id.release();
    value.release();
    return name;
}

GeneralNamePtr ip_address_name(const std::string& address) {
    ASN1_OCTET_STRING* bytes = checked(a2i_IPADDRESS(address.c_str()), "IP address " + address);
    GeneralNamePtr name(checked(GENERAL_NAME_new(), "GENERAL_NAME_new"));
    GENERAL_NAME_set0_value(name.get(), GEN_IPADD, bytes);
    return name;
}

void add_subject_alt_names(X509* cert, const CertSpec& spec) {
    const GeneralNamesPtr names(checked(sk_GENERAL_NAME_new_null(), "sk_GENERAL_NAME_new_null"));
    if (spec.upn) push_name(names.get(), upn_name(*spec.upn));
    for (const auto& [type, values] :
         {std::pair{GEN_EMAIL, &spec.emails}, {GEN_DNS, &spec.dns_names}, {GEN_URI, &spec.uris}})
        for (const auto& value : *values) push_name(names.get(), ia5_name(type, value));
    for (const auto& address : spec.ip_addresses) push_name(names.get(), ip_address_name(address));
    if (sk_GENERAL_NAME_num(names.get()) == 0) return;
    check(X509_add1_ext_i2d(cert, NID_subject_alt_name, names.get(), 0, X509V3_ADD_DEFAULT) == 1, "SAN");
}

// The layout ADCS issues ([MS-WCCE] 2.2.2.7.7.4): GeneralNames holding one otherName whose value
// is an OCTET STRING of the SID text.
std::vector<std::uint8_t> sid_extension_value(const std::string& sid) {
    return der_tlv(0x30, {der_other_name(object_sid_oid, der_tlv(0x04, {der_text(sid)}))});
}

const char* extended_key_usage(const CertSpec& spec) {
    if (spec.client_auth_eku && spec.server_auth_eku) return "clientAuth,serverAuth";
    if (spec.client_auth_eku) return "clientAuth";
    if (spec.server_auth_eku) return "serverAuth";
    return "emailProtection";
}

void add_leaf_extensions(X509* cert, X509* issuer, const std::string& crl_url, const CertSpec& spec) {
    add_config_extension(cert, issuer, NID_basic_constraints, "critical,CA:FALSE");
    add_config_extension(cert, issuer, NID_key_usage, "critical,digitalSignature");
    if (!spec.omit_eku) add_config_extension(cert, issuer, NID_ext_key_usage, extended_key_usage(spec));
    add_config_extension(cert, issuer, NID_subject_key_identifier, "hash");
    add_config_extension(cert, issuer, NID_authority_key_identifier, "keyid:always");
    if (!crl_url.empty()) add_distribution_point(cert, crl_url);
    add_subject_alt_names(cert, spec);
    if (spec.sid) {
        add_raw_extension(
            cert, {.oid = sid_extension_oid, .der = sid_extension_value(*spec.sid), .critical = false});
    }
    for (const auto& extension : spec.extra_extensions) add_raw_extension(cert, extension);
}

void sign(X509* cert, EVP_PKEY* key) { check(X509_sign(cert, key, EVP_sha256()) > 0, "X509_sign"); }

// crlNumber, the CA's key identifier, and for a delta CRL the base it adds to (critical, RFC 5280).
void add_crl_extensions(X509_CRL* crl, X509* ca_cert, long crl_number, long delta_of, bool key_id) {
    const Asn1IntegerPtr number(checked(ASN1_INTEGER_new(), "ASN1_INTEGER_new"));
    check(ASN1_INTEGER_set(number.get(), crl_number) == 1, "ASN1_INTEGER_set");
    check(X509_CRL_add1_ext_i2d(crl, NID_crl_number, number.get(), 0, X509V3_ADD_DEFAULT) == 1, "crlNumber");
    if (delta_of > 0) {
        const Asn1IntegerPtr base(checked(ASN1_INTEGER_new(), "ASN1_INTEGER_new"));
        check(ASN1_INTEGER_set(base.get(), delta_of) == 1, "ASN1_INTEGER_set");
        check(X509_CRL_add1_ext_i2d(crl, NID_delta_crl, base.get(), 1, X509V3_ADD_DEFAULT) == 1, "deltaCRL");
    }
    if (!key_id) return;
    X509V3_CTX context;
    X509V3_set_ctx_nodb(&context);
    X509V3_set_ctx(&context, ca_cert, nullptr, nullptr, crl, 0);
    const X509ExtensionPtr aki(checked(
        X509V3_EXT_conf_nid(nullptr, &context, NID_authority_key_identifier, "keyid:always"), "CRL AKI"));
    check(X509_CRL_add_ext(crl, aki.get(), -1) == 1, "adding the CRL AKI");
}

void add_revoked(X509_CRL* crl, const std::string& serial_hex, std::time_t revoked_at, int reason) {
    X509RevokedPtr entry(checked(X509_REVOKED_new(), "X509_REVOKED_new"));
    check(X509_REVOKED_set_serialNumber(entry.get(), serial_from_hex(serial_hex).get()) == 1,
          "revoked serial");
    const Asn1TimePtr date(checked(ASN1_TIME_set(nullptr, revoked_at), "ASN1_TIME_set"));
    check(X509_REVOKED_set_revocationDate(entry.get(), date.get()) == 1, "revocation date");
    if (reason >= 0) {
        const Asn1EnumeratedPtr code(checked(ASN1_ENUMERATED_new(), "ASN1_ENUMERATED_new"));
        check(ASN1_ENUMERATED_set(code.get(), reason) == 1 &&
                  X509_REVOKED_add1_ext_i2d(entry.get(), NID_crl_reason, code.get(), 0, 0) == 1,
              "CRL reason code");
    }
    check(X509_CRL_add0_revoked(crl, entry.get()) == 1, "X509_CRL_add0_revoked");
    entry.release();
}

}  // namespace

struct TestCa::State {
    struct Revocation {
        std::string serial_hex;
        std::time_t revoked_at;
        int reason;
    };

    // A CA signed by parent, or self-signed when parent is null.
    State(const std::string& common_name, const State* parent) : key(generate_key()) {
        X509* parent_cert = parent ? parent->cert.get() : nullptr;
        cert = new_certificate(common_name, key.get(), parent_cert, -one_day, ca_lifetime);
        X509* issuer = parent ? parent_cert : cert.get();
        add_config_extension(cert.get(), issuer, NID_basic_constraints, "critical,CA:TRUE");
        add_config_extension(cert.get(), issuer, NID_key_usage, "critical,keyCertSign,cRLSign");
        add_config_extension(cert.get(), issuer, NID_subject_key_identifier, "hash");
        add_config_extension(cert.get(), issuer, NID_authority_key_identifier, "keyid:always");
        if (parent && !parent->crl_url.empty()) add_distribution_point(cert.get(), parent->crl_url);
        sign(cert.get(), parent ? parent->key.get() : key.get());
        cert_pem = certificate_pem(cert.get());
    }

    State(EvpPkeyPtr ca_key, X509Ptr ca_cert)
        : key(std::move(ca_key)), cert(std::move(ca_cert)), cert_pem(certificate_pem(cert.get())) {}

    EvpPkeyPtr key;
    X509Ptr cert;
    std::string cert_pem;
    std::vector<Revocation> revocations;
    long last_crl_number = 0;
    long last_base_number = 0;
    std::size_t revocations_in_base = 0;  // revocations[0, this) are in the last base CRL
    std::string crl_url;
    std::string delta_crl_url;

    std::string make_crl(std::chrono::seconds next_update, bool delta, bool key_id = true) {
        const X509CrlPtr crl(checked(X509_CRL_new(), "X509_CRL_new"));
        check(X509_CRL_set_version(crl.get(), X509_CRL_VERSION_2) == 1, "CRL version");
        check(X509_CRL_set_issuer_name(crl.get(), X509_get_subject_name(cert.get())) == 1, "CRL issuer");
        const auto last_update = std::min(-one_hour, next_update - one_hour);
        check(X509_CRL_set1_lastUpdate(crl.get(), time_from_now(last_update).get()) == 1, "CRL lastUpdate");
        check(X509_CRL_set1_nextUpdate(crl.get(), time_from_now(next_update).get()) == 1, "CRL nextUpdate");
        for (std::size_t i = delta ? revocations_in_base : 0; i < revocations.size(); ++i) {
            add_revoked(crl.get(), revocations[i].serial_hex, revocations[i].revoked_at,
                        revocations[i].reason);
        }
        add_crl_extensions(crl.get(), cert.get(), ++last_crl_number, delta ? last_base_number : 0, key_id);
        if (!delta) {
            last_base_number = last_crl_number;
            revocations_in_base = revocations.size();
            if (!delta_crl_url.empty()) {  // where its delta CRLs are (Freshest CRL), as AD CS writes it
                const auto freshest = distribution_points(delta_crl_url);
                check(X509_CRL_add1_ext_i2d(crl.get(), NID_freshest_crl, freshest.get(), 0, 0) == 1,
                      delta_crl_url);
            }
        }
        check(X509_CRL_sort(crl.get()) == 1, "X509_CRL_sort");
        check(X509_CRL_sign(crl.get(), key.get(), EVP_sha256()) > 0, "X509_CRL_sign");
        return to_pem([&crl](BIO* bio) { return PEM_write_bio_X509_CRL(bio, crl.get()); }, "CRL");
    }
};

TestCa TestCa::create_root(const std::string& common_name) {
    return TestCa(std::make_unique<State>(common_name, nullptr));
}

TestCa TestCa::create_intermediate(const std::string& common_name) const {
    return TestCa(std::make_unique<State>(common_name, state_.get()));
}

TestCa TestCa::load(const std::string& cert_pem, const std::string& key_pem) {
    auto cert = parse_certificate_pem(cert_pem);
    check(cert != nullptr, "reading the CA certificate");
    const BioPtr bio(checked(BIO_new_mem_buf(key_pem.data(), static_cast<int>(key_pem.size())), "BIO_new"));
    EvpPkeyPtr key(
        checked(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr), "reading the CA key"));
    return TestCa(std::make_unique<State>(std::move(key), std::move(cert)));
}

IssuedCert TestCa::issue(const CertSpec& spec) const {
    const EvpPkeyPtr key = generate_key();
    const X509Ptr cert =
        new_certificate(spec.common_name, key.get(), state_->cert.get(), spec.not_before, spec.not_after);
    add_leaf_extensions(cert.get(), state_->cert.get(), state_->crl_url, spec);
    sign(cert.get(), state_->key.get());
    return {.cert_pem = certificate_pem(cert.get()),
            .key_pem = private_key_pem(key.get()),
            .der = certificate_der(cert.get()),
            .serial_hex = easgate::testing::serial_hex(cert.get())};
}

void TestCa::revoke(const std::string& serial_hex, int reason) {
    state_->revocations.push_back(
        {.serial_hex = serial_hex, .revoked_at = std::time(nullptr), .reason = reason});
}

std::string TestCa::serial_hex() const { return easgate::testing::serial_hex(state_->cert.get()); }

const std::string& TestCa::cert_pem() const { return state_->cert_pem; }

void TestCa::publish_at(std::string crl_url, std::string delta_crl_url) {
    state_->crl_url = std::move(crl_url);
    state_->delta_crl_url = std::move(delta_crl_url);
}

std::string TestCa::crl_pem(std::chrono::seconds valid) const { return state_->make_crl(valid, false); }

std::string TestCa::delta_crl_pem(std::chrono::seconds valid, bool key_id) const {
    return state_->make_crl(valid, true, key_id);
}

TestCa::TestCa(std::unique_ptr<State> state) : state_(std::move(state)) {}
TestCa::TestCa(TestCa&&) noexcept = default;
TestCa& TestCa::operator=(TestCa&&) noexcept = default;
TestCa::~TestCa() = default;

}  // namespace easgate::testing
