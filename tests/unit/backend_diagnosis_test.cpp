#include "easgate/upstream/backend_diagnosis.hpp"

#include <gtest/gtest.h>

namespace easgate::upstream {
namespace {

TEST(BackendDiagnosis, RecognisesHttpSysAndApacheHeaderRefusals) {
    // HTTP.sys, as Exchange's front end sends it.
    EXPECT_TRUE(says_header_too_long("Bad Request", "<h2>Bad Request - Request Too Long</h2>"));
    EXPECT_TRUE(
        says_header_too_long("Bad Request", "HTTP Error 400. The size of the request headers is too long."));
    EXPECT_TRUE(says_header_too_long("Request Header Too Long", ""));
    // Apache httpd (the lab's stand-in).
    EXPECT_TRUE(says_header_too_long("Bad Request", "Size of a request header field exceeds server limit."));
}

TEST(BackendDiagnosis, OtherBadRequestsAreNotBlamedOnTheHeader) {
    EXPECT_FALSE(says_header_too_long("Bad Request", "<h1>Bad Request</h1> Invalid verb"));
    EXPECT_FALSE(says_header_too_long("Bad Request", ""));
}

// Exchange's ActiveSync directory out of the box offers Basic only; with Windows Authentication
// but its Negotiate provider removed, NTLM and Basic.
TEST(BackendDiagnosis, A401WithoutNegotiateNamesTheIisSetting) {
    for (const auto& challenges :
         {std::vector<std::string_view>{"Basic realm=\"mail.corp.example\""},
          std::vector<std::string_view>{"NTLM", "Basic realm=\"mail\""}, std::vector<std::string_view>{}}) {
        const auto refusal = read_backend_refusal(challenges, true);
        EXPECT_TRUE(refusal.cause.starts_with("Negotiate not offered")) << refusal.offered;
        EXPECT_NE(refusal.remedy.find("-WindowsAuthEnabled $true"), std::string::npos);
    }
    EXPECT_EQ(read_backend_refusal({"NTLM", "Basic realm=\"mail\""}, true).offered, "NTLM, Basic");
    EXPECT_EQ(read_backend_refusal({}, true).offered, "nothing");
}

TEST(BackendDiagnosis, A401OfferingNegotiateIsTheTicketsFault) {
    for (const auto& iis : {std::vector<std::string_view>{"Negotiate", "NTLM"},
                            std::vector<std::string_view>{"NTLM, Negotiate"},  // folded by an intermediary
                            std::vector<std::string_view>{"negotiate oYG3MIG0oAMKAQ"}}) {
        const auto refused = read_backend_refusal(iis, true);
        EXPECT_TRUE(refused.cause.starts_with("the token was refused")) << refused.cause;
        for (const char* check : {"setspn -Q", "5 minutes", "channel_binding: auto"})
            EXPECT_NE(refused.remedy.find(check), std::string::npos) << check;
    }
    EXPECT_TRUE(read_backend_refusal({"X-Negotiate"}, true).cause.starts_with("Negotiate not offered"));
    // Without a kerberos: section easgate has no token to send; the device's own may have gone.
    const std::vector<std::string_view> iis{"Negotiate", "NTLM"};
    EXPECT_NE(read_backend_refusal(iis, false, false).cause.find("no kerberos: section"), std::string::npos);
    EXPECT_NE(read_backend_refusal(iis, true, false).cause.find("credentials the device sent"),
              std::string::npos);
}

TEST(BackendDiagnosis, SchemesAreReadFromFoldedAndSeparateFields) {
    const std::vector<std::string_view> schemes =
        offered_schemes({"NTLM,\tNegotiate oYG3", "Basic realm=\"a, b\", charset=\"UTF-8\""});
    EXPECT_EQ(schemes, (std::vector<std::string_view>{"NTLM", "Negotiate", "Basic"}));

    auto answer = [](unsigned status, std::string_view challenge) {
        common::ResponseHeader header;
        header.result(status);
        header.insert(boost::beast::http::field::www_authenticate, challenge);
        return header;
    };
    EXPECT_TRUE(asks_for_negotiate(answer(401, "NTLM, Negotiate")));
    EXPECT_TRUE(asks_for_negotiate(answer(401, "negotiate")));
    EXPECT_FALSE(asks_for_negotiate(answer(401, "NegotiateExt")));
    EXPECT_FALSE(asks_for_negotiate(answer(401, "Basic realm=\"Negotiate\"")));
    EXPECT_FALSE(asks_for_negotiate(answer(200, "Negotiate")));
}

TEST(BackendDiagnosis, TheDateFieldTellsHowFarExchangesClockIsOff) {
    const auto now = std::chrono::system_clock::from_time_t(784111777);  // Sun, 06 Nov 1994 08:49:37 GMT
    EXPECT_EQ(clock_ahead_of("Sun, 06 Nov 1994 08:49:37 GMT", now), std::chrono::seconds(0));
    EXPECT_EQ(clock_ahead_of("Sun, 06 Nov 1994 08:56:37 GMT", now), std::chrono::seconds(420));
    EXPECT_EQ(clock_ahead_of("Sun, 06 Nov 1994 08:39:37 GMT", now), std::chrono::seconds(-600));
    for (const char* unreadable :
         {"", "yesterday", "Sun, 06 Nov 1994 08:49:37 GMT trailing", "Sunday, 06-Nov-94"})
        EXPECT_FALSE(clock_ahead_of(unreadable, now)) << unreadable;
}

// Kerberos refuses a ticket from a clock more than 5 minutes off: with Exchange's Date that far
// from easgate's clock, that is the cause, and the remedy is the clocks alone.
TEST(BackendDiagnosis, A401FromAServerWhoseClockIsOffNamesTheClocks) {
    const std::vector<std::string_view> iis{"Negotiate", "NTLM"};
    const auto ahead = read_backend_refusal(iis, true, true, std::chrono::seconds(7 * 60 + 12));
    EXPECT_TRUE(
        ahead.cause.starts_with("the token was refused: Exchange's clock is 7 min 12 s ahead of easgate's"))
        << ahead.cause;
    EXPECT_NE(ahead.remedy.find("w32tm /resync"), std::string::npos);
    EXPECT_EQ(ahead.remedy.find("setspn"), std::string::npos);
    const auto behind = read_backend_refusal(iis, true, true, std::chrono::seconds(-400)).cause;
    EXPECT_NE(behind.find("6 min 40 s behind"), std::string::npos) << behind;
    const auto hours = read_backend_refusal(iis, true, true, std::chrono::hours(3)).cause;
    EXPECT_NE(hours.find("3 h 0 min ahead of"), std::string::npos) << hours;
    for (const auto close : {std::chrono::seconds(300), std::chrono::seconds(-120)}) {
        const auto refused = read_backend_refusal(iis, true, true, close);
        EXPECT_NE(refused.remedy.find("setspn -Q"), std::string::npos);
        EXPECT_NE(refused.remedy.find("5 minutes apart"), std::string::npos);  // close to the limit
    }
}

// Exchange's Date within a minute of easgate's clock: the clocks are not named among the causes.
TEST(BackendDiagnosis, A401FromAServerWhoseClockAgreesLeavesTheClocksOut) {
    const std::vector<std::string_view> iis{"Negotiate", "NTLM"};
    for (const auto agreeing :
         {std::chrono::seconds(0), std::chrono::seconds(-60), std::chrono::seconds(45)}) {
        const auto refused = read_backend_refusal(iis, true, true, agreeing);
        EXPECT_NE(refused.cause.find("(its clock agrees with easgate's)"), std::string::npos)
            << refused.cause;
        EXPECT_EQ(refused.remedy.find("clocks"), std::string::npos) << refused.remedy;
        EXPECT_NE(refused.remedy.find("setspn -Q"), std::string::npos);
        EXPECT_NE(refused.remedy.find("channel_binding: auto"), std::string::npos);
    }
}

}  // namespace
}  // namespace easgate::upstream
