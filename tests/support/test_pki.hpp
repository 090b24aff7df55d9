#pragma once

// Test-only PKI: a root CA, intermediates and device/server certificates made with the OpenSSL
// API at test time, so no certificate is ever committed and every test controls its own PKI.

#include <openssl/x509.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <initializer_list>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "easgate/common/openssl_ptr.hpp"

namespace easgate::testing {

// Extension and otherName OIDs of the names a device certificate carries.
inline constexpr const char* subject_alt_name_oid = "2.5.29.17";
inline constexpr const char* upn_oid = "1.3.6.1.4.1.311.20.2.3";
inline constexpr const char* sid_extension_oid = "1.3.6.1.4.1.311.25.2";  // szOID_NTDS_CA_SECURITY_EXT
inline constexpr const char* object_sid_oid = "1.3.6.1.4.1.311.25.2.1";   // szOID_NTDS_OBJECTSID

// An extension added exactly as given: for certificates a well-behaved CA would never issue.
struct RawExtension {
    std::string oid;                // dotted, e.g. "2.5.29.17"
    std::vector<std::uint8_t> der;  // the extension value (the content of extnValue)
    bool critical = false;
};

struct CertSpec {
    std::string common_name = "device";
    std::optional<std::string> upn;         // SAN otherName 1.3.6.1.4.1.311.20.2.3, UTF8String
    std::vector<std::string> emails;        // SAN rfc822Name
    std::vector<std::string> dns_names;     // SAN dNSName (server certificates)
    std::vector<std::string> ip_addresses;  // SAN iPAddress, e.g. "127.0.0.1"
    std::vector<std::string> uris;          // SAN uniformResourceIdentifier (Intune's SID URL)
    std::optional<std::string> sid;         // 1.3.6.1.4.1.311.25.2 security extension, as ADCS writes it
    bool client_auth_eku = true;            // EKU 1.3.6.1.5.5.7.3.2
    bool server_auth_eku = false;           // EKU 1.3.6.1.5.5.7.3.1; with neither: emailProtection only
    bool omit_eku = false;                  // no EKU extension at all
    std::chrono::seconds not_before{-600};  // relative to now; AD CS backdates by 10 minutes
    std::chrono::seconds not_after{30 * 24 * 3600};
    std::vector<RawExtension> extra_extensions;  // added after all the above
};

// A certificate with its private key.
struct IssuedCert {
    std::string cert_pem;
    std::string key_pem;
    std::vector<std::uint8_t> der;
    std::string serial_hex;  // upper-case, no separators

    // Writes NAME.pem (certificate, followed by chain_pem when given) and NAME.key into dir;
    // returns {cert path, key path}.
    std::pair<std::filesystem::path, std::filesystem::path> write(const std::filesystem::path& dir,
                                                                  const std::string& name,
                                                                  const std::string& chain_pem = {}) const;
};

class TestCa {
public:
    static TestCa create_root(const std::string& common_name);
    TestCa create_intermediate(const std::string& common_name) const;
    // A CA made elsewhere (bench/run.sh's openssl-made issuing CA), to issue from.
    static TestCa load(const std::string& cert_pem, const std::string& key_pem);

    // Certificates issued from now on name crl_url as their CRL Distribution Point, and base CRLs
    // name delta_crl_url (when given) as their Freshest CRL, as AD CS publishes them.
    void publish_at(std::string crl_url, std::string delta_crl_url = {});

    IssuedCert issue(const CertSpec& spec) const;
    // reason: an OpenSSL CRL_REASON_* code for the entry's reasonCode, -1 (CRL_REASON_NONE) for none.
    void revoke(const IssuedCert& cert, int reason = -1) { revoke(cert.serial_hex, reason); }
    void revoke(const std::string& serial_hex, int reason = -1);

    const std::string& cert_pem() const;
    std::string serial_hex() const;
    // A base CRL, signed now, listing every revoked serial; past its nextUpdate when next_update < 0.
    std::string crl_pem(std::chrono::seconds next_update = std::chrono::hours(24)) const;
    // A delta CRL on the last base CRL: the serials revoked since, valid for a day by default;
    // without an Authority Key Identifier when key_id is false (OpenSSL then won't add it to a base
    // that has one).
    std::string delta_crl_pem(std::chrono::seconds next_update = std::chrono::hours(24),
                              bool key_id = true) const;

    TestCa(TestCa&&) noexcept;
    TestCa& operator=(TestCa&&) noexcept;
    ~TestCa();

private:
    struct State;
    explicit TestCa(std::unique_ptr<State> state);
    std::unique_ptr<State> state_;
};

// The first certificate in pem, or null.
common::OpenSslPtr<X509, X509_free> parse_certificate_pem(const std::string& pem);

// Writes text to path, creating parent folders.
void write_file(const std::filesystem::path& path, const std::string& text);

// DER building blocks for hand-made extension values, e.g.
// der_tlv(0x30, {der_other_name(oid, der_tlv(0x0c, {der_text("alice@example.com")}))}).
std::vector<std::uint8_t> der_tlv(std::uint8_t tag, std::initializer_list<std::vector<std::uint8_t>> content);
std::vector<std::uint8_t> der_text(std::string_view text);         // the bytes, no tag or length
std::vector<std::uint8_t> der_oid(const std::string& dotted_oid);  // a whole OBJECT IDENTIFIER
// A GeneralName otherName: [0] { type-id, [0] EXPLICIT value }.
std::vector<std::uint8_t> der_other_name(const std::string& type_id, const std::vector<std::uint8_t>& value);

}  // namespace easgate::testing
