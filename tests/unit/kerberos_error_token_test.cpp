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

// MIT's token above, as hex, with one run of bytes changed (as long as it was).
std::string changed_token(std::string_view from, std::string_view to) {
    std::string hex =
        "a17d307ba0030a0102a2740472607006092a864886f71201020203007e61305fa003020105a10302011ea411180f32303236"
        "31"
        "3230373230353430395aa5050203009b61a60302011fa90e1b0c4558414d504c452e54455354aa243022a003020103a11b30"
        "19"
        "1b04485454501b116d61696c2e6578616d706c652e74657374";
    hex.replace(hex.find(from), from.size(), to);
    std::string bytes;
    for (std::size_t i = 0; i < hex.size(); i += 2)
        bytes += static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16));
    return "Negotiate " + common::base64_encode(bytes);
}

// With another error code (error-code [6] INTEGER, one byte).
std::string with_code(std::uint8_t code) {
    return changed_token("a60302011f",
                         "a6030201" + common::hex_encode(std::string(1, static_cast<char>(code))));
}

TEST(KerberosErrorToken, ReadsMitsErrorInsideSpnego) {
    const auto error = kerberos_error_in({"NTLM", mit_bad_key});
    ASSERT_TRUE(error.has_value());
    EXPECT_EQ(error->code, kerberos_code::bad_integrity);
    EXPECT_EQ(error->service, "HTTP/mail.example.test@EXAMPLE.TEST");
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

// The service name goes into a setspn command in the remedy: one with a byte no SPN has is left out.
TEST(KerberosErrorToken, AServiceNameWithAByteNoSpnHasIsLeftOut) {
    const auto semicolon = kerberos_error_in({changed_token("6d61696c2e", "6d61696c3b")});  // "mail;"
    ASSERT_TRUE(semicolon.has_value());
    EXPECT_EQ(semicolon->code, 31);
    EXPECT_EQ(semicolon->service, "");
    const auto refusal = read_backend_refusal({changed_token("6d61696c2e", "6d61696c3b")}, true, true);
    EXPECT_EQ(refusal.cause.find(';'), std::string::npos) << refusal.cause;
    EXPECT_NE(refusal.remedy.find("setspn -Q <the SPN in upstreams[].service_principal>"), std::string::npos)
        << refusal.remedy;
    // A port is part of some SPNs (HTTP/mail.example.com:8443).
    const auto colon = kerberos_error_in({changed_token("652e74657374", "653a74657374")});
    ASSERT_TRUE(colon.has_value());
    EXPECT_EQ(colon->service, "HTTP/mail.example:test@EXAMPLE.TEST");
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
            EXPECT_EQ(error->service.find_first_of(" ;|&`'\"\\"), std::string::npos) << error->service;
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
        EXPECT_NE(refusal.remedy.find("setspn -Q HTTP/mail.example.test names it"), std::string::npos)
            << refusal.remedy;
        EXPECT_NE(refusal.remedy.find("RollAlternateServiceAccountPassword.ps1"), std::string::npos);
        EXPECT_EQ(refusal.remedy.find("clocks"), std::string::npos) << "the code rules the clocks out";
    }
}

TEST(KerberosErrorToken, TheRefusalNamesTheClockOrTheServerFromTheErrorCode) {
    const auto skew = read_backend_refusal({with_code(37)}, true, true, std::chrono::seconds(-612));
    EXPECT_EQ(
        skew.cause,
        "the token was refused with KRB_AP_ERR_SKEW (37): Exchange finds the time in easgate's token more "
        "than 5 minutes from its own clock; Exchange's clock is 10 min 12 s behind easgate's (its Date "
        "header)");
    EXPECT_NE(skew.remedy.find("w32tm /resync"), std::string::npos);
    EXPECT_EQ(skew.remedy.find("setspn"), std::string::npos) << skew.remedy;
    // A Date header that agrees is told, not hidden: the token's time is what Exchange refused.
    const auto agreeing = read_backend_refusal({with_code(37)}, true, true, std::chrono::seconds(2));
    EXPECT_TRUE(agreeing.cause.ends_with(", although its Date header is within a minute of easgate's clock"))
        << agreeing.cause;
    const auto no_date = read_backend_refusal({with_code(37)}, true, true);
    EXPECT_TRUE(no_date.cause.ends_with("more than 5 minutes from its own clock")) << no_date.cause;
    // The ticket's times are the domain controller's: its clock is in question too.
    const auto expired = read_backend_refusal({with_code(32)}, true, true, std::chrono::seconds(3));
    EXPECT_NE(expired.cause.find("KRB_AP_ERR_TKT_EXPIRED (32): by Exchange's clock the ticket has expired or "
                                 "is not yet valid (its times are the domain controller's)"),
              std::string::npos)
        << expired.cause;
    const auto version = read_backend_refusal({with_code(44)}, true, true);
    EXPECT_NE(version.cause.find("KRB_AP_ERR_BADKEYVER (44): Exchange holds a key for "
                                 "HTTP/mail.example.test@EXAMPLE.TEST of another version than the KDC used"),
              std::string::npos)
        << version.cause;
    const auto no_key = read_backend_refusal({with_code(45)}, true, true);
    EXPECT_NE(no_key.cause.find("at all (or, MIT's acceptor, cannot read its keytab)"), std::string::npos)
        << no_key.cause;
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
