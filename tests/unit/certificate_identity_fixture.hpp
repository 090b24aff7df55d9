#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "easgate/identity/certificate_identity.hpp"
#include "test_pki.hpp"

// The CA and the hand-written DER pieces the certificate identity tests build their certificates from.
namespace easgate::identity::test {

using easgate::testing::CertSpec;
using easgate::testing::der_other_name;
using easgate::testing::der_text;
using easgate::testing::der_tlv;
using easgate::testing::IssuedCert;
using easgate::testing::object_sid_oid;
using easgate::testing::RawExtension;
using easgate::testing::sid_extension_oid;
using easgate::testing::subject_alt_name_oid;
using easgate::testing::TestCa;
using easgate::testing::upn_oid;
using Bytes = std::vector<std::uint8_t>;

inline constexpr const char* domain_user_sid = "S-1-5-21-3623811015-3361044348-30300820-1013";

inline CertSpec spec_with_upn(const std::string& upn) {
    CertSpec spec;
    spec.upn = upn;
    return spec;
}

inline Bytes utf8_string(const std::string& text) { return der_tlv(0x0c, {der_text(text)}); }
inline Bytes upn_entry(const Bytes& value) { return der_other_name(upn_oid, value); }
inline Bytes email_entry(const std::string& email) { return der_tlv(0x81, {der_text(email)}); }
inline Bytes sid_entry(const Bytes& value) { return der_other_name(object_sid_oid, value); }
inline Bytes octet_string(const std::string& text) { return der_tlv(0x04, {der_text(text)}); }
inline Bytes uri_entry(const std::string& uri) { return der_tlv(0x86, {der_text(uri)}); }
// KB5014754's SAN URL form of a SID, as Intune writes it; spelled out here, not taken from the code.
inline std::string sid_url(const std::string& sid) { return "tag:microsoft.com,2022-09-14:sid:" + sid; }

class CertificateIdentityTest : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        root_ = std::make_unique<TestCa>(TestCa::create_root("easgate test root"));
        issuing_ca_ = std::make_unique<TestCa>(root_->create_intermediate("easgate test issuing CA"));
    }
    static void TearDownTestSuite() {
        issuing_ca_.reset();
        root_.reset();
    }

    static IssuedCert issue(const CertSpec& spec) { return issuing_ca_->issue(spec); }
    static IdentityResult extract(const CertSpec& spec) { return extract_identity_from_der(issue(spec).der); }
    static IdentityResult extract_with_upn(const std::string& upn) { return extract(spec_with_upn(upn)); }
    // A certificate with no SAN but these extensions.
    static IdentityResult extract_with_extensions(std::vector<RawExtension> extensions) {
        CertSpec spec;
        spec.extra_extensions = std::move(extensions);
        return extract(spec);
    }
    static IdentityResult extract_with_san(const Bytes& san) {
        return extract_with_extensions({{.oid = subject_alt_name_oid, .der = san, .critical = false}});
    }
    static IdentityResult extract_with_sid_extension(const Bytes& sid_extension) {
        CertSpec spec = spec_with_upn("alice@corp.example");
        spec.extra_extensions = {{.oid = sid_extension_oid, .der = sid_extension, .critical = false}};
        return extract(spec);
    }

    // A UPN certificate whose SAN also holds these URIs, with the SID extension naming
    // extension_sid when that is given.
    static IdentityResult extract_with_uris(const std::vector<std::string>& uris,
                                            const std::string& extension_sid = {}) {
        Bytes names = upn_entry(utf8_string("alice@corp.example"));
        for (const auto& uri : uris) {
            const Bytes entry = uri_entry(uri);
            names.insert(names.end(), entry.begin(), entry.end());
        }
        std::vector<RawExtension> extensions{
            {.oid = subject_alt_name_oid, .der = der_tlv(0x30, {names}), .critical = false}};
        if (!extension_sid.empty()) {
            extensions.push_back({.oid = sid_extension_oid,
                                  .der = der_tlv(0x30, {sid_entry(octet_string(extension_sid))}),
                                  .critical = false});
        }
        return extract_with_extensions(std::move(extensions));
    }

    static inline std::unique_ptr<TestCa> root_;
    static inline std::unique_ptr<TestCa> issuing_ca_;
};

// Written out by hand from the ADCS layout ([MS-WCCE] 2.2.2.7.7.4), independent of the builders:
// SEQUENCE { [0] { OID 1.3.6.1.4.1.311.25.2.1, [0] { OCTET STRING "S-1-5-21-1-2-3-1104" } } }.
inline const Bytes adcs_sid_extension = {0x30, 0x25, 0xa0, 0x23, 0x06, 0x0a, 0x2b, 0x06, 0x01, 0x04,
                                         0x01, 0x82, 0x37, 0x19, 0x02, 0x01, 0xa0, 0x15, 0x04, 0x13,
                                         'S',  '-',  '1',  '-',  '5',  '-',  '2',  '1',  '-',  '1',
                                         '-',  '2',  '-',  '3',  '-',  '1',  '1',  '0',  '4'};

}  // namespace easgate::identity::test
