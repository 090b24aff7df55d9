#include "easgate/eas/eas_request.hpp"

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

#include "eas_query_builders.hpp"

namespace easgate::eas {
namespace {

using test::active_sync;
using test::base64_target;
using test::Base64Query;
using test::plain_target;
using test::post;
using test::refusal;

// ---- The spec's example, both forms -------------------------------------------------------------

// MS-ASHTTP 2.2.1.1.1.1 and 2.2.1.1.1: the same request in base64 and in plain text. The base64
// example decodes to command code 0, Sync (not FolderSync), and carries no User.
TEST(ParseEasRequest, DecodesTheSpecBase64Example) {
    const EasParseResult result = post("/Microsoft-Server-ActiveSync?jAAJBAp2MTQwRGV2aWNlAApTbWFydFBob25l");
    ASSERT_TRUE(result) << result.error;
    const EasRequest& request = *result.request;
    EXPECT_EQ(request.path, EasPath::active_sync);
    EXPECT_TRUE(request.base64_query);
    EXPECT_EQ(request.command, "Sync");
    EXPECT_EQ(request.protocol_version, "14.0");
    EXPECT_EQ(request.locale, "0x0409");
    EXPECT_EQ(request.device_id, "v140Device");
    EXPECT_EQ(request.device_type, "SmartPhone");
    EXPECT_EQ(request.policy_key, "");
    EXPECT_EQ(request.user, "");
    EXPECT_TRUE(request.parameters.empty());
}

TEST(ParseEasRequest, DecodesTheSpecPlainExampleToTheSameFields) {
    const EasParseResult result =
        post("/Microsoft-Server-ActiveSync?Cmd=Sync&User=rmjones&DeviceId=v140Device&DeviceType=SmartPhone",
             {.protocol_version = "14.0", .policy_key = "", .user_agent = "ASOM"});
    ASSERT_TRUE(result) << result.error;
    const EasRequest& request = *result.request;
    EXPECT_FALSE(request.base64_query);
    EXPECT_EQ(request.command, "Sync");
    EXPECT_EQ(request.user, "rmjones");
    EXPECT_EQ(request.device_id, "v140Device");
    EXPECT_EQ(request.device_type, "SmartPhone");
    EXPECT_EQ(request.protocol_version, "14.0");
    EXPECT_EQ(request.user_agent, "ASOM");
    EXPECT_EQ(request.locale, "");
}

// ---- Paths, methods and headers -------------------------------------------------------------------

TEST(ParseEasRequest, ClassifiesPathsIgnoringCaseAndEscapes) {
    const std::vector<std::pair<std::string, EasPath>> cases = {
        {"/Microsoft-Server-ActiveSync", EasPath::active_sync},
        {"/microsoft-server-activesync", EasPath::active_sync},
        {"/MICROSOFT-SERVER-ACTIVESYNC/", EasPath::active_sync},
        {"/Microsoft%2DServer-ActiveSync", EasPath::active_sync},
        {"/autodiscover/autodiscover.xml", EasPath::autodiscover},
        {"/Autodiscover/Autodiscover.xml?x=%%", EasPath::autodiscover},
        {"/owa/", EasPath::other},
        {"/", EasPath::other},
        {"/Microsoft-Server-ActiveSyncX", EasPath::other},
        {"/Microsoft-Server-ActiveSync/default.eas", EasPath::other},
    };
    for (const auto& [target, path] : cases) {
        const EasParseResult result = parse_eas_request("OPTIONS", target, {});
        ASSERT_TRUE(result) << target << ": " << result.error;
        EXPECT_EQ(result.request->path, path) << target;
        EXPECT_EQ(result.request->command, "") << target;
    }
}

TEST(ParseEasRequest, RefusesTargetsThatAreNotPlainOriginForm) {
    const std::vector<std::pair<std::string, std::string>> cases = {
        {"", "request-target does not start with '/'"},
        {"*", "request-target does not start with '/'"},
        {"Microsoft-Server-ActiveSync", "request-target does not start with '/'"},
        {"https://mail.example.com/Microsoft-Server-ActiveSync?Cmd=Sync",
         "request-target does not start with '/'"},
        {"/Microsoft Server", "request-target holds byte 0x20, which must be percent-encoded"},
        {"/Microsoft-Server-ActiveSync?Cmd=Sync\r\n",
         "request-target holds byte 0x0D, which must be percent-encoded"},
        {"/caf\xc3\xa9", "request-target holds byte 0xC3, which must be percent-encoded"},
        {"/Microsoft-Server-ActiveSync#top", "request-target has a fragment"},
        {"/owa/../Microsoft-Server-ActiveSync", "path has a '.' or '..' segment"},
        {"/./Microsoft-Server-ActiveSync", "path has a '.' or '..' segment"},
        {"/Microsoft-Server-ActiveSync%2F..%2Fowa", "path has a '.' or '..' segment"},
        {"//Microsoft-Server-ActiveSync", "path has an empty segment"},
        {"/Microsoft-Server-ActiveSync//", "path has an empty segment"},
        {"/owa\\..\\Microsoft-Server-ActiveSync", "path holds a backslash"},
        {"/a%00", "path holds a control character"},
        {"/a%G0", "path has a malformed percent escape"},
    };
    for (const auto& [target, error] : cases) EXPECT_EQ(refusal(post(target)), error) << target;
}

TEST(ParseEasRequest, OptionsNeedsNoQueryAndNeverHasACommand) {
    const EasParseResult bare = parse_eas_request("OPTIONS", active_sync, {.user_agent = "Outlook"});
    ASSERT_TRUE(bare) << bare.error;
    EXPECT_EQ(bare.request->path, EasPath::active_sync);
    EXPECT_EQ(bare.request->command, "");
    EXPECT_EQ(bare.request->user_agent, "Outlook");

    const EasParseResult with_device =
        parse_eas_request("OPTIONS", plain_target("User=a&DeviceId=d&Cmd=Sync"), {});
    ASSERT_TRUE(with_device) << with_device.error;
    EXPECT_EQ(with_device.request->command, "");
    EXPECT_EQ(with_device.request->device_id, "d");

    Base64Query query;
    query.command_code = 9;
    const EasParseResult base64 = parse_eas_request("OPTIONS", base64_target(query), {});
    ASSERT_TRUE(base64) << base64.error;
    EXPECT_EQ(base64.request->command, "");
    EXPECT_EQ(base64.request->device_id, "ABC123");

    EXPECT_EQ(refusal(post(active_sync)), "ActiveSync request has no query (Cmd, DeviceId and DeviceType)");
    EXPECT_EQ(refusal(post(std::string(active_sync) + "?")),
              "ActiveSync request has no query (Cmd, DeviceId and DeviceType)");
    // Methods are case-sensitive (RFC 9110 9.1): "options" is not OPTIONS.
    EXPECT_FALSE(parse_eas_request("options", active_sync, {}));
}

TEST(ParseEasRequest, ValidatesTheEasHeadersOnlyWhereTheyAreUsed) {
    const std::string target = plain_target("Cmd=Sync&DeviceId=d&DeviceType=t");
    for (const char* version : {"2.5", "12.0", "14.1", "16.1"}) {
        EXPECT_EQ(post(target, {.protocol_version = version}).request->protocol_version, version);
    }
    for (const char* version : {"abc", "14", "14.10", "141.0", ".1", "14.", "1 4.1"}) {
        EXPECT_EQ(refusal(post(target, {.protocol_version = version})),
                  "MS-ASProtocolVersion header is not a version such as 14.1")
            << version;
    }
    EXPECT_EQ(refusal(post(target, {.policy_key = std::string(65, '1')})),
              "X-MS-PolicyKey header is not 1 to 64 visible ASCII characters");
    EXPECT_EQ(refusal(post(target, {.policy_key = "12 34"})),
              "X-MS-PolicyKey header is not 1 to 64 visible ASCII characters");
    // Base64 queries carry the version themselves; elsewhere the headers mean nothing.
    EXPECT_TRUE(post(base64_target(Base64Query()), {.protocol_version = "abc"}));
    const EasParseResult other =
        post("/owa/", {.protocol_version = "abc", .policy_key = "a b", .user_agent = "UA"});
    ASSERT_TRUE(other) << other.error;
    EXPECT_EQ(other.request->path, EasPath::other);
    EXPECT_EQ(other.request->protocol_version, "");
    EXPECT_EQ(other.request->user_agent, "UA");
}

// The policy judges one value; Exchange would read both (joined): a field sent twice is refused.
TEST(ParseEasRequest, RefusesAJudgedFieldSentTwice) {
    const std::string target = plain_target("Cmd=Sync&DeviceId=d&DeviceType=t");
    EXPECT_EQ(refusal(post(target, {.protocol_version = "14.1", .repeated = "MS-ASProtocolVersion"})),
              "MS-ASProtocolVersion header sent more than once");
    EXPECT_EQ(refusal(post("/owa/", {.user_agent_repeated = true, .repeated = "X-MS-PolicyKey"})),
              "User-Agent header sent more than once");
    EXPECT_TRUE(post("/owa/", {.repeated = "X-MS-PolicyKey"}));  // meaningless there
}

// A 400 reason and a log line must not carry what the device sent: only names and numbers.
TEST(ParseEasRequest, ErrorsDoNotRepeatRequestBytes) {
    const std::string secret = "SECRET";
    for (const std::string& target :
         {plain_target("Cmd=Sync&User=" + secret + "%0A&DeviceId=d&DeviceType=t"),
          plain_target("Cmd=" + secret + "1&DeviceId=d&DeviceType=t"), plain_target(secret + "!" + secret),
          plain_target("Cmd=Sync&" + secret + "-x=1&DeviceId=d&DeviceType=t"), "/" + secret + "/../x"}) {
        const EasParseResult result = post(target);
        ASSERT_FALSE(result) << target;
        EXPECT_EQ(result.error.find(secret), std::string::npos) << result.error;
    }
}

}  // namespace
}  // namespace easgate::eas
