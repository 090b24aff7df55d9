#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

#include "eas_query_builders.hpp"
#include "easgate/eas/eas_request.hpp"

namespace easgate::eas {
namespace {

using test::base64_target;
using test::Base64Query;
using test::Bytes;
using test::Parameters;
using test::plain_target;
using test::post;
using test::refusal;

TEST(ParseEasRequest, PlainFormDecodesValuesAndKeepsParametersInOrder) {
    const EasParseResult result = post(
        plain_target("Cmd=SmartReply&User=alice%40corp.example&DeviceId=ABC123&DeviceType=iPhone"
                     "&ItemId=5%3A12&CollectionId=5&SaveInSent=T&AttachmentName=Q3+report%2Epdf"),
        {.protocol_version = "16.1", .policy_key = "3942919513", .user_agent = "Apple-iPhone9C1/1402.100"});
    ASSERT_TRUE(result) << result.error;
    const EasRequest& request = *result.request;
    EXPECT_EQ(request.command, "SmartReply");
    EXPECT_EQ(request.user, "alice@corp.example");
    EXPECT_EQ(request.device_id, "ABC123");
    EXPECT_EQ(request.device_type, "iPhone");
    EXPECT_EQ(request.protocol_version, "16.1");
    EXPECT_EQ(request.policy_key, "3942919513");
    EXPECT_EQ(request.user_agent, "Apple-iPhone9C1/1402.100");
    const Parameters expected = {
        {"ItemId", "5:12"}, {"CollectionId", "5"}, {"SaveInSent", "T"}, {"AttachmentName", "Q3 report.pdf"}};
    EXPECT_EQ(request.parameters, expected);
    EXPECT_EQ(request.parameter("itemid"), "5:12");
    EXPECT_EQ(request.parameter("LongId"), std::nullopt);
}

TEST(ParseEasRequest, PlainNamesIgnoreCaseAndTakeTheSpecSpelling) {
    const EasParseResult result =
        post(plain_target("cmd=folderSYNC&USER=bob&deviceid=x1&DEVICETYPE=Android&itemid=7&Custom9=1"));
    ASSERT_TRUE(result) << result.error;
    EXPECT_EQ(result.request->command, "FolderSync");
    EXPECT_EQ(result.request->user, "bob");
    EXPECT_EQ(result.request->device_id, "x1");
    EXPECT_EQ(result.request->device_type, "Android");
    const Parameters expected = {{"ItemId", "7"}, {"Custom9", "1"}};
    EXPECT_EQ(result.request->parameters, expected);
}

TEST(ParseEasRequest, PlainFormKeepsUnknownCommandsAndToleratesEmptySegmentsAndEmptyUser) {
    const EasParseResult result = post(plain_target("Cmd=GetHierarchy&&User=&DeviceId=d&DeviceType=t&"));
    ASSERT_TRUE(result) << result.error;
    EXPECT_EQ(result.request->command, "GetHierarchy");
    EXPECT_EQ(result.request->user, "");
    const EasParseResult future = post(plain_target("Cmd=FutureCommand&DeviceId=d&DeviceType=t"));
    ASSERT_TRUE(future) << future.error;
    EXPECT_EQ(future.request->command, "FutureCommand");
}

TEST(ParseEasRequest, PlainFormRefusesMalformedQueries) {
    const std::string device = "&DeviceId=d&DeviceType=t";
    const std::vector<std::pair<std::string, std::string>> cases = {
        {"User=a&DeviceId=d&DeviceType=t", "query has no Cmd"},
        {"Cmd=Sync&DeviceType=t", "query has no DeviceId"},
        {"Cmd=Sync&DeviceId=d", "query has no DeviceType"},
        {"Cmd=Sync&cmd=Ping" + device, "query parameter Cmd appears more than once"},
        {"Cmd=Sync&User=a&user=b" + device, "query parameter User appears more than once"},
        {"Cmd=Sync&ItemId=1&ITEMID=2" + device, "query parameter ItemId appears more than once"},
        {"Cmd=Sync&User=a%0Ab" + device, "query parameter User holds a control character"},
        {"Cmd=Sync&User=a%00" + device, "query parameter User holds a control character"},
        // An escaped value after one without escapes, and the other way round: each value is judged.
        {"Cmd=Sync&User=a&ItemId=%7F" + device, "query parameter ItemId holds a control character"},
        {"Cmd=Sync&User=%41&ItemId=b%09" + device, "query parameter ItemId holds a control character"},
        {"Cmd=Sync&User=a%4" + device, "query parameter User has a malformed percent escape"},
        {"Cmd=Sync&User=a%G1" + device, "query parameter User has a malformed percent escape"},
        {"Cmd=Sync&Flag" + device, "query parameter 2 has no '='"},
        {"Cmd=Sync&Item-Id=1" + device, "query parameter 2 has a malformed name"},
        {"Cmd=Sync&=1" + device, "query parameter 2 has a malformed name"},
        {"Cmd=Sync1" + device, "Cmd is not a command name (1 to 32 letters)"},
        {"Cmd=" + device, "Cmd is not a command name (1 to 32 letters)"},
        {"Cmd=", "Cmd is not a command name (1 to 32 letters)"},
        {"Cmd=Sync&DeviceId=&DeviceType=t", "DeviceId is empty"},
        {"Cmd=Sync&DeviceId=A%20B&DeviceType=t", "DeviceId holds a character other than visible ASCII"},
        {"Cmd=Sync&DeviceId=d&DeviceType=", "DeviceType is empty"},
        {"Cmd=Sync&DeviceId=d&DeviceType=%C3%A9", "DeviceType holds a character other than visible ASCII"},
    };
    for (const auto& [query, error] : cases) EXPECT_EQ(refusal(post(plain_target(query))), error) << query;
}

TEST(ParseEasRequest, RefusesMoreThan64ParametersAndQueriesOver8KiB) {
    std::string query = "Cmd=Sync&DeviceId=d&DeviceType=t";
    for (int index = 0; index < 61; ++index) query += "&P" + std::to_string(index) + "=1";
    ASSERT_TRUE(post(plain_target(query)));  // 64 parameters
    query += "&Extra=1";
    EXPECT_EQ(refusal(post(plain_target(query))), "query has more than 64 parameters");

    std::string long_query = "Cmd=Sync&DeviceId=d&DeviceType=t&AttachmentName=";
    long_query += std::string(max_query_bytes - long_query.size(), 'a');
    ASSERT_EQ(long_query.size(), 8192u);
    const EasParseResult at_limit = post(plain_target(long_query));
    ASSERT_TRUE(at_limit) << at_limit.error;
    EXPECT_EQ(at_limit.request->parameter("AttachmentName")->size(), 8192u - 48u);
    EXPECT_EQ(refusal(post(plain_target(long_query + "a"))), "query is 8193 bytes, over the 8192-byte limit");
}

TEST(ParseEasRequest, DeviceIdIsLimitedTo128Bytes) {
    const EasParseResult at_limit =
        post(plain_target("Cmd=Sync&DeviceType=t&DeviceId=" + std::string(128, 'A')));
    ASSERT_TRUE(at_limit) << at_limit.error;
    EXPECT_EQ(at_limit.request->device_id, std::string(128, 'A'));
    EXPECT_EQ(refusal(post(plain_target("Cmd=Sync&DeviceType=t&DeviceId=" + std::string(129, 'A')))),
              "DeviceId is 129 bytes, over the 128-byte limit");

    Base64Query query;
    query.device_id = Bytes(128, 'B');
    EXPECT_TRUE(post(base64_target(query)));
    query.device_id = Bytes(129, 'B');
    EXPECT_EQ(refusal(post(base64_target(query))),
              "base64 query: DeviceId is 129 bytes, over the 128-byte limit");
    // Binary IDs are returned as hex, so the limit allows 64 raw bytes.
    query.device_id = Bytes(64, 0x01);
    const EasParseResult binary = post(base64_target(query));
    ASSERT_TRUE(binary) << binary.error;
    std::string expected_hex;
    for (int index = 0; index < 64; ++index) expected_hex += "01";
    EXPECT_EQ(binary.request->device_id, expected_hex);
    query.device_id = Bytes(65, 0x01);
    EXPECT_EQ(refusal(post(base64_target(query))),
              "base64 query: DeviceId is 130 bytes, over the 128-byte limit");
}

}  // namespace
}  // namespace easgate::eas
