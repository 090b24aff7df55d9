#include <gtest/gtest.h>

#include <string>

#include "delegation/der.hpp"
#include "delegation/token_framing.hpp"
#include "easgate/common/lru_cache.hpp"
#include "easgate/delegation/spnego.hpp"

namespace easgate::delegation {
namespace {

std::string hex(std::string_view bytes) {
    static constexpr char digits[] = "0123456789abcdef";
    std::string out;
    for (const unsigned char byte : bytes) {
        out += digits[byte >> 4];
        out += digits[byte & 0xf];
    }
    return out;
}

// An AP-REQ framed as the token writer frames it.
std::string framed(std::string_view ap_req) {
    der::BackwardWriter out(0);
    out.bytes(ap_req);
    frame_krb5_ap_req(out);
    return std::string(out.view());
}

TEST(DelegationSpnego, WrapsAShortTokenAsNegTokenInitOfferingKerberos) {
    EXPECT_EQ(hex(wrap_in_spnego(std::string_view("\x60\x01\x00", 3))),
              "6022"              // GSS InitialContextToken
              "06062b0601050502"  // SPNEGO OID
              "a018"
              "3016"                            // [0] NegTokenInit SEQUENCE
              "a00d300b06092a864886f712010202"  // mechTypes: Kerberos
              "a205"
              "0403"
              "600100");  // mechToken
}

TEST(DelegationSpnego, LongTokensUseLongFormLengthsLikeMitsSpnego) {
    const std::string token(0x63d, 'x');  // the size of a lab service ticket's AP-REQ
    const std::string wrapped = hex(wrap_in_spnego(token));
    // Byte for byte the framing MIT's own SPNEGO produced for the same token in the lab.
    EXPECT_EQ(wrapped.substr(0, 2 * 43),
              "6082066406062b0601050502a082065830820654a00d300b06092a864886f712010202a28206410482063d");
    EXPECT_EQ(wrapped.size(), 2 * (0x664 + 4));
}

TEST(DelegationSpnego, TokensOfSixtyFourKiBTakeThreeByteLengths) {
    const std::string token(0x10000, 'x');  // a user in thousands of groups
    const std::string wrapped = hex(wrap_in_spnego(token));
    EXPECT_EQ(wrapped.substr(0, 2 * 48),
              "608301002b06062b0601050502a08301001e3083010019a00d300b06092a864886f712010202a283010005048301"
              "0000");
    EXPECT_EQ(wrapped.size(), 2 * 65584);
}

TEST(DelegationSpnego, FramesAnApReqAsAKerberosInitialContextToken) {
    EXPECT_EQ(hex(framed("AP")),
              "600f"                    // GSS InitialContextToken
              "06092a864886f712010202"  // krb5 mechanism OID
              "0100"                    // TOK_ID: AP-REQ
              "4150");
    const std::string long_one = hex(framed(std::string(0x62a, 'x')));  // 0x62a + 13
    EXPECT_EQ(long_one.substr(0, 2 * 17), "6082063706092a864886f7120102020100");
}

TEST(DelegationSpnego, AuthenticatorChecksumWithoutBindingsIsZerosAndMitsMutualFlags) {
    EXPECT_EQ(hex(gss_authenticator_checksum({})),
              "10000000"                          // Lgth 16, little-endian
              "00000000000000000000000000000000"  // no channel bindings
              "32010000");  // MUTUAL | CONF | INTEG | TRANS, as MIT sends for GSS_C_MUTUAL_FLAG
}

TEST(DelegationSpnego, AuthenticatorChecksumHashesBindingsAsMitLaysThemOut) {
    std::string binding = "tls-server-end-point:";
    for (int byte = 0; byte < 32; ++byte) binding += static_cast<char>(byte);
    // MD5 of five little-endian words (address types and lengths: 0; data length) and the data.
    EXPECT_EQ(hex(gss_authenticator_checksum(binding)),
              "10000000"
              "8f1214c9c9cab8dc3bf866da9aba57a7"
              "32010000");
}

TEST(DelegationDer, BackwardWriterWritesTheShortestLengthAtEverySize) {
    for (const auto& [size, header] :
         std::initializer_list<std::pair<std::size_t, std::string>>{{0, "0400"},
                                                                    {1, "0401"},
                                                                    {127, "047f"},
                                                                    {128, "048180"},
                                                                    {255, "0481ff"},
                                                                    {256, "04820100"},
                                                                    {65535, "0482ffff"},
                                                                    {65536, "0483010000"}}) {
        const std::string content(size, 'x');
        der::BackwardWriter out(1);  // grows as it goes
        out.tlv(0x04, content);
        const std::string written = std::move(out).take();
        EXPECT_EQ(hex(written.substr(0, written.size() - size)), header) << size;
        EXPECT_EQ(written.substr(written.size() - size), content) << size;
    }
}

TEST(DelegationDer, BackwardWriterNestsAndWritesMinimalIntegers) {
    der::BackwardWriter out(4);
    out.wrapped(der::sequence, [&] {
        out.wrapped(der::context(1), [&] { out.integer(-129); });
        out.wrapped(der::context(0), [&] { out.integer(128); });
    });
    EXPECT_EQ(hex(std::move(out).take()), "300ca00402020080a1040202ff7f");
    for (const auto& [value, encoded] :
         std::initializer_list<std::pair<std::int64_t, std::string>>{{0, "020100"},
                                                                     {127, "02017f"},
                                                                     {-128, "020180"},
                                                                     {255, "020200ff"},
                                                                     {0x3fffffff, "02043fffffff"},
                                                                     {0x8003, "0203008003"}}) {
        der::BackwardWriter one(0);
        one.integer(value);
        EXPECT_EQ(hex(std::move(one).take()), encoded) << value;
    }
}

TEST(LruCache, ForgetsTheLeastRecentlyUsedBeyondCapacity) {
    common::LruCache<int> cache(2);
    cache.store("alice", 1);
    cache.store("bob", 2);
    ASSERT_NE(cache.find("alice"), nullptr);  // now bob is the least recently used
    cache.store("carol", 3);
    EXPECT_EQ(cache.size(), 2U);
    EXPECT_EQ(cache.find("bob"), nullptr);
    EXPECT_EQ(*cache.find("alice"), 1);
    cache.store("alice", 4);
    EXPECT_EQ(*cache.find("alice"), 4);
    EXPECT_EQ(cache.size(), 2U);
}

}  // namespace
}  // namespace easgate::delegation
