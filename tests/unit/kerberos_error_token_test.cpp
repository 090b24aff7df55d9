#include "easgate/upstream/kerberos_error_token.hpp"

#include <gtest/gtest.h>

#include <string>

#include "easgate/common/text.hpp"
#include "easgate/upstream/backend_diagnosis.hpp"

namespace easgate::upstream {
namespace {

// What the lab's Apache (mod_auth_gssapi, MIT krb5 1.20) answered a ticket it held the wrong key for,
// sent with mutual authentication: SPNEGO's NegTokenResp (reject) around the krb5 error token.
constexpr std::string_view mit_bad_key =
    "Negotiate "
    "oX0we6ADCgEConQEcmBwBgkqhkiG9xIBAgIDAH5hMF+gAwIBBaEDAgEepBEYDzIwMjYxMjA3MjA1NDA5WqUFAgMAm2GmAwIB"
    "H6kOGwxFWEFNUExFLlRFU1SqJDAioAMCAQOhGzAZGwRIVFRQGxFtYWlsLmV4YW1wbGUudGVzdA==";
// The same without SPNEGO: the RFC 4121 error token alone.
constexpr std::string_view bare_error_token =
    "Negotiate "
    "YHAGCSqGSIb3EgECAgMAfmEwX6ADAgEFoQMCAR6kERgPMjAyNjEyMDcyMDU0MDlapQUCAwCbYaYDAgEfqQ4bDEVYQU1QTEUuVEV"
    "TVKokMCKgAwIBA6EbMBkbBEhUVFAbEW1haWwuZXhhbXBsZS50ZXN0";
// As Windows frames it: Microsoft's krb5 OID (1.2.840.48018.1.2.2), KRB_AP_ERR_MODIFIED.
constexpr std::string_view windows_modified =
    "Negotiate "
    "oX0we6ADCgEConQEcmBwBgkqhkiC9xIBAgIDAH5hMF+gAwIBBaEDAgEepBEYDzIwMjYxMjA3MjA1NDA5WqUFAgMAm2GmAwIB"
    "KakOGwxFWEFNUExFLlRFU1SqJDAioAMCAQOhGzAZGwRIVFRQGxFtYWlsLmV4YW1wbGUudGVzdA==";

// MIT's error token with another error code (one byte, at a fixed place).
std::string with_code(std::uint8_t code) {
    std::string hex =
        "a17d307ba0030a0102a2740472607006092a864886f71201020203007e61305fa003020105a10302011ea411180f32303236"
        "31"
        "3230373230353430395aa5050203009b61a60302011fa90e1b0c4558414d504c452e54455354aa243022a003020103a11b30"
        "19"
        "1b04485454501b116d61696c2e6578616d706c652e74657374";
    const std::size_t at = hex.find("a60302011f") + 8;
    hex.replace(at, 2, common::hex_encode(std::string(1, static_cast<char>(code))));
    std::string bytes;
    for (std::size_t i = 0; i < hex.size(); i += 2)
        bytes += static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16));
    return "Negotiate " + common::base64_encode(bytes);
}

TEST(KerberosErrorToken, ReadsMitsErrorInsideSpnego) {
    const auto error = kerberos_error_in({"NTLM", mit_bad_key});
    ASSERT_TRUE(error.has_value());
    EXPECT_EQ(error->code, kerberos_code::bad_integrity);
    EXPECT_EQ(error->service, "HTTP/mail.example.test@EXAMPLE.TEST");
    EXPECT_EQ(error->server_time, 1796676849);  // 2026-12-07 20:54:09 UTC
    EXPECT_EQ(error->text, "");
    EXPECT_EQ(kerberos_error_name(error->code), "KRB_AP_ERR_BAD_INTEGRITY (31)");
}

TEST(KerberosErrorToken, ReadsTheBareTokenAndWindowsFraming) {
    const auto bare = kerberos_error_in({bare_error_token});
    ASSERT_TRUE(bare.has_value());
    EXPECT_EQ(bare->code, 31);
    const auto windows = kerberos_error_in({windows_modified});
    ASSERT_TRUE(windows.has_value());
    EXPECT_EQ(windows->code, kerberos_code::modified);
    EXPECT_EQ(kerberos_error_name(windows->code), "KRB_AP_ERR_MODIFIED (41)");
    EXPECT_EQ(kerberos_error_name(99), "Kerberos error 99");
}

// A challenge with no token, another scheme, or bytes that are not a KRB-ERROR hold none.
TEST(KerberosErrorToken, OtherChallengesHoldNone) {
    EXPECT_FALSE(kerberos_error_in({"Negotiate", "NTLM", "Basic realm=\"mail\""}).has_value());
    EXPECT_FALSE(kerberos_error_in({"Negotiate oRQwEqADCgEAoQsGCSqGSIb3EgECAg=="}).has_value());  // accept
    EXPECT_FALSE(kerberos_error_in({"NTLM TlRMTVNTUAACAAAA"}).has_value());
    EXPECT_FALSE(kerberos_error_in({"Negotiate !!!!"}).has_value());
}

// Every cut of a real token, and every byte of it changed: an answer from the backend is not trusted.
TEST(KerberosErrorToken, TruncatedOrAlteredTokensAreReadSafely) {
    const std::string token(mit_bad_key.substr(std::string_view("Negotiate ").size()));
    for (std::size_t length = 0; length < token.size(); length += 4) {
        const std::string challenge = "Negotiate " + token.substr(0, length);
        EXPECT_FALSE(kerberos_error_in({challenge}).has_value()) << length;
    }
    std::size_t read = 0;
    for (std::size_t at = 0; at < token.size(); ++at) {
        std::string changed = token;
        changed[at] = changed[at] == 'A' ? 'B' : 'A';
        if (const auto error = kerberos_error_in({"Negotiate " + changed})) {
            ++read;
            for (const char c : error->service + error->text) EXPECT_TRUE(c >= ' ' && c < '\x7f');
        }
    }
    EXPECT_GT(read, 0u) << "most single changes leave a readable KRB-ERROR";
}

TEST(KerberosErrorToken, TheRefusalNamesTheKeyFromTheErrorCode) {
    for (const auto challenge : {mit_bad_key, windows_modified}) {
        const auto refusal = read_backend_refusal({challenge}, true, true, std::chrono::seconds(1));
        EXPECT_NE(refusal.cause.find("Exchange could not decrypt the ticket the KDC made for "
                                     "HTTP/mail.example.test@EXAMPLE.TEST"),
                  std::string::npos)
            << refusal.cause;
        EXPECT_NE(refusal.remedy.find("setspn -Q HTTP/mail.example.test:"), std::string::npos)
            << refusal.remedy;
        EXPECT_NE(refusal.remedy.find("RollAlternateServiceAccountPassword.ps1"), std::string::npos);
        EXPECT_EQ(refusal.remedy.find("clocks"), std::string::npos) << "the code rules the clocks out";
    }
}

TEST(KerberosErrorToken, TheRefusalNamesTheClockOrTheServerFromTheErrorCode) {
    const auto skew = read_backend_refusal({with_code(37)}, true, true, std::chrono::seconds(-612));
    EXPECT_TRUE(
        skew.cause.starts_with("the token was refused with KRB_AP_ERR_SKEW (37): Exchange's clock is "
                               "10 min 12 s behind easgate's"))
        << skew.cause;
    EXPECT_NE(skew.remedy.find("w32tm /resync"), std::string::npos);
    const auto agreeing = read_backend_refusal({with_code(37)}, true, true, std::chrono::seconds(2));
    EXPECT_NE(
        agreeing.cause.find("Exchange refuses the time in easgate's token, though Exchange's clock is 0 "
                            "min 2 s ahead of easgate's"),
        std::string::npos)
        << agreeing.cause;
    const auto no_date = read_backend_refusal({with_code(37)}, true, true);
    EXPECT_NE(no_date.cause.find("more than 5 minutes apart"), std::string::npos) << no_date.cause;
    const auto version = read_backend_refusal({with_code(44)}, true, true);
    EXPECT_NE(version.cause.find("KRB_AP_ERR_BADKEYVER (44): Exchange holds no key of the version"),
              std::string::npos)
        << version.cause;
    const auto other_server = read_backend_refusal({with_code(35)}, true, true);
    EXPECT_NE(other_server.remedy.find("upstreams[].service_principal"), std::string::npos);
    // A code with no cause of its own is named, with the general remedy.
    const auto replay = read_backend_refusal({with_code(34)}, true, true);
    EXPECT_TRUE(
        replay.cause.starts_with("the token was refused with KRB_AP_ERR_REPEAT (34): Exchange did not "
                                 "accept the delegated Kerberos ticket"))
        << replay.cause;
    EXPECT_NE(replay.remedy.find("channel_binding"), std::string::npos);
}

}  // namespace
}  // namespace easgate::upstream
