// Broken encodings generated at test time from valid certificates: extraction must refuse them or
// return an identity that still obeys every rule, and never crash (ASan/UBSan builds check that).

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <memory>
#include <random>
#include <regex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "corpus_mutations.hpp"
#include "easgate/identity/certificate_identity.hpp"
#include "test_pki.hpp"

namespace {

using easgate::identity::extract_identity_from_der;
using easgate::identity::IdentityResult;
using easgate::identity::max_name_bytes;
using easgate::testing::CertSpec;
using easgate::testing::der_other_name;
using easgate::testing::der_text;
using easgate::testing::der_tlv;
using easgate::testing::object_sid_oid;
using easgate::testing::sid_extension_oid;
using easgate::testing::subject_alt_name_oid;
using easgate::testing::TestCa;
using easgate::testing::upn_oid;
using Bytes = std::vector<std::uint8_t>;

using easgate::testing::corpus::masks_for_position;
namespace corpus = easgate::testing::corpus;

// The rules restated independently of the implementation, so a mutation that slips a bad name
// through fails here.
bool is_acceptable_name(const std::string& name) {
    const auto is_control = [](char character) {
        const auto byte = static_cast<unsigned char>(character);
        return byte < 0x20 || byte == 0x7f;
    };
    return !name.empty() && name.size() <= max_name_bytes &&
           std::none_of(name.begin(), name.end(), is_control);
}

bool is_acceptable_sid(const std::string& sid) {
    static const std::regex sid_pattern("S-1(-[0-9]+)+");
    return sid.empty() || std::regex_match(sid, sid_pattern);
}

::testing::AssertionResult refused_or_valid(const IdentityResult& result) {
    if (!result) {
        if (result.error.empty()) return ::testing::AssertionFailure() << "refused without a reason";
        return ::testing::AssertionSuccess();
    }
    const auto& identity = *result.identity;
    if (!result.error.empty()) return ::testing::AssertionFailure() << "identity with error " << result.error;
    if (identity.upn.empty() && identity.emails.empty()) return ::testing::AssertionFailure() << "no name";
    if (!identity.upn.empty() && !is_acceptable_name(identity.upn)) {
        return ::testing::AssertionFailure() << "unacceptable UPN of " << identity.upn.size() << " bytes";
    }
    if (!std::all_of(identity.emails.begin(), identity.emails.end(), is_acceptable_name)) {
        return ::testing::AssertionFailure() << "unacceptable email";
    }
    if (!is_acceptable_sid(identity.sid)) return ::testing::AssertionFailure() << "unacceptable SID";
    return ::testing::AssertionSuccess();
}

Bytes with_byte_xored(Bytes bytes, std::size_t position, std::uint8_t mask) {
    bytes[position] ^= mask;
    return bytes;
}

const Bytes valid_san =
    der_tlv(0x30, {der_other_name(upn_oid, der_tlv(0x0c, {der_text("alice@corp.example")})),
                   der_tlv(0x81, {der_text("alice@example.com")})});
const Bytes valid_sid_extension =
    der_tlv(0x30, {der_other_name(object_sid_oid, der_tlv(0x04, {der_text("S-1-5-21-1-2-3-1104")}))});

// Extension values that must be refused: each truncation, wrong outer tags, impossible lengths,
// BER-only forms and trailing bytes, all around a valid value (under 128 bytes).
std::vector<Bytes> malformed_variants(const Bytes& valid) {
    std::vector<Bytes> variants;
    for (std::size_t length = 0; length < valid.size(); ++length)
        variants.emplace_back(valid.begin(), valid.begin() + length);
    const Bytes content(valid.begin() + 2, valid.end());
    const auto with_header = [&content](Bytes header) {
        header.insert(header.end(), content.begin(), content.end());
        return header;
    };
    for (const std::uint8_t wrong_tag : {0x31, 0xa0, 0x04, 0x0c, 0x10, 0x00, 0xff}) {
        variants.push_back(with_header({wrong_tag, static_cast<std::uint8_t>(content.size())}));
    }
    variants.push_back(with_header({0x30, 0x84, 0xff, 0xff, 0xff, 0xff}));  // 4 GiB
    variants.push_back(with_header({0x30, 0x88, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}));
    variants.push_back(with_header({0x30, 0x89, 0x01, 0, 0, 0, 0, 0, 0, 0, 0}));  // wider than long
    variants.push_back(with_header({0x30, static_cast<std::uint8_t>(content.size() + 1)}));
    variants.push_back(with_header({0x30, 0x81, static_cast<std::uint8_t>(content.size())}));  // not minimal
    Bytes indefinite = with_header({0x30, 0x80});
    indefinite.insert(indefinite.end(), {0x00, 0x00});
    variants.push_back(indefinite);
    Bytes trailing = valid;
    trailing.push_back(0x00);
    variants.push_back(trailing);
    return variants;
}

class CertificateIdentityCorpusTest : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        issuing_ca_ = std::make_unique<TestCa>(TestCa::create_root("easgate corpus root"));
        CertSpec every_name;
        every_name.upn = "alice@corp.example";
        every_name.emails = {"alice@example.com"};
        every_name.dns_names = {"phone.example"};
        every_name.ip_addresses = {"192.0.2.7"};
        every_name.sid = "S-1-5-21-3623811015-3361044348-30300820-1013";
        CertSpec email_only;
        email_only.emails = {"bob@example.com"};
        valid_certificates_ = {issuing_ca_->issue(every_name).der, issuing_ca_->issue(email_only).der};
    }
    static void TearDownTestSuite() { issuing_ca_.reset(); }

    // A device certificate whose only SAN, or whose SID extension, is the value given.
    static IdentityResult extract_with_extension(const char* oid, const Bytes& value) {
        CertSpec spec;
        spec.extra_extensions = {{.oid = oid, .der = value, .critical = false}};
        if (std::string_view(oid) == sid_extension_oid) spec.upn = "alice@corp.example";
        return extract_identity_from_der(issuing_ca_->issue(spec).der);
    }

    static std::unique_ptr<TestCa> issuing_ca_;
    static std::vector<Bytes> valid_certificates_;
};
std::unique_ptr<TestCa> CertificateIdentityCorpusTest::issuing_ca_;
std::vector<Bytes> CertificateIdentityCorpusTest::valid_certificates_;

// Otherwise every test below could pass by refusing everything.
TEST_F(CertificateIdentityCorpusTest, SeedsAreAccepted) {
    for (const Bytes& der : valid_certificates_) EXPECT_TRUE(extract_identity_from_der(der));
    EXPECT_TRUE(extract_with_extension(subject_alt_name_oid, valid_san));
    EXPECT_TRUE(extract_with_extension(sid_extension_oid, valid_sid_extension));
}

TEST_F(CertificateIdentityCorpusTest, EveryTruncationIsRefused) {
    for (const Bytes& der : valid_certificates_) {
        for (std::size_t length = 0; length < der.size(); ++length) {
            const IdentityResult result =
                extract_identity_from_der(std::span<const std::uint8_t>(der.data(), length));
            EXPECT_FALSE(result) << "truncated to " << length << " of " << der.size() << " bytes";
            EXPECT_FALSE(result.error.empty());
        }
    }
}

TEST_F(CertificateIdentityCorpusTest, SingleByteMutationsAreRefusedOrValid) {
    std::mt19937 random(corpus::seed);
    std::size_t accepted = 0;
    std::size_t refused = 0;
    for (const Bytes& der : valid_certificates_) {
        for (std::size_t position = 0; position < der.size(); ++position) {
            for (const std::uint8_t mask : masks_for_position(random)) {
                const IdentityResult result = extract_identity_from_der(with_byte_xored(der, position, mask));
                EXPECT_TRUE(refused_or_valid(result)) << "byte " << position << " xor " << int{mask};
                ++(result ? accepted : refused);
            }
        }
    }
    // Mutations of the signature still decode, mutations of the framing do not: both paths ran.
    EXPECT_GT(accepted, 0u);
    EXPECT_GT(refused, 0u);
}

TEST_F(CertificateIdentityCorpusTest, RandomGarbageIsRefused) {
    std::mt19937 random(corpus::seed);
    std::uniform_int_distribution<int> byte(0, 255);
    std::uniform_int_distribution<std::size_t> size(0, 2048);
    for (int round = 0; round < 2000; ++round) {
        Bytes garbage(size(random));
        std::generate(garbage.begin(), garbage.end(),
                      [&] { return static_cast<std::uint8_t>(byte(random)); });
        // Half start like a certificate (SEQUENCE, two length bytes) to get past the first check.
        if (round % 2 == 0 && garbage.size() >= 4) {
            const std::size_t content_length = garbage.size() - 4;
            garbage[0] = 0x30;
            garbage[1] = 0x82;
            garbage[2] = static_cast<std::uint8_t>(content_length >> 8);
            garbage[3] = static_cast<std::uint8_t>(content_length & 0xff);
        }
        EXPECT_FALSE(extract_identity_from_der(garbage)) << "round " << round;
    }
}

TEST_F(CertificateIdentityCorpusTest, MalformedSanContentsAreRefused) {
    std::vector<Bytes> variants = malformed_variants(valid_san);
    // The UPN claims more bytes than its parents hold.
    variants.push_back(der_tlv(0x30, {der_other_name(upn_oid, {0x0c, 0x7f, 'a'})}));
    for (const Bytes& value : variants) {
        const IdentityResult result = extract_with_extension(subject_alt_name_oid, value);
        EXPECT_FALSE(result);
        EXPECT_EQ(result.error, "certificate SAN extension is malformed") << value.size() << " bytes";
    }
}

TEST_F(CertificateIdentityCorpusTest, MalformedSidContentsAreRefused) {
    std::vector<Bytes> variants = malformed_variants(valid_sid_extension);
    // The SID claims 4 GiB inside a few bytes.
    variants.push_back(
        der_tlv(0x30, {der_other_name(object_sid_oid, {0x04, 0x84, 0xff, 0xff, 0xff, 0xff, 'S'})}));
    for (const Bytes& value : variants) {
        const IdentityResult result = extract_with_extension(sid_extension_oid, value);
        EXPECT_FALSE(result);
        EXPECT_EQ(result.error, "certificate SID extension is malformed") << value.size() << " bytes";
    }
}

TEST_F(CertificateIdentityCorpusTest, MutatedExtensionContentsAreRefusedOrValid) {
    std::mt19937 random(corpus::seed);
    for (const auto& [oid, valid] :
         {std::pair{subject_alt_name_oid, valid_san}, std::pair{sid_extension_oid, valid_sid_extension}}) {
        for (std::size_t position = 0; position < valid.size(); ++position) {
            for (const std::uint8_t mask : masks_for_position(random)) {
                const IdentityResult result =
                    extract_with_extension(oid, with_byte_xored(valid, position, mask));
                EXPECT_TRUE(refused_or_valid(result)) << oid << " byte " << position << " xor " << int{mask};
            }
        }
    }
}

}  // namespace
