#include <gtest/gtest.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "eas_query_builders.hpp"
#include "easgate/eas/eas_request.hpp"

namespace easgate::eas {
namespace {

using test::Alphabet;
using test::base64_target;
using test::Base64Query;
using test::Bytes;
using test::bytes_of;
using test::Parameters;
using test::plain_target;
using test::post;
using test::refusal;
using test::to_base64;

TEST(ParseEasRequest, DecodesEveryCommandCodeOfTheSpecTable) {
    const std::vector<std::pair<std::uint8_t, std::string>> table = {
        {0, "Sync"},
        {1, "SendMail"},
        {2, "SmartForward"},
        {3, "SmartReply"},
        {4, "GetAttachment"},
        {9, "FolderSync"},
        {10, "FolderCreate"},
        {11, "FolderDelete"},
        {12, "FolderUpdate"},
        {13, "MoveItems"},
        {14, "GetItemEstimate"},
        {15, "MeetingResponse"},
        {16, "Search"},
        {17, "Settings"},
        {18, "Ping"},
        {19, "ItemOperations"},
        {20, "Provision"},
        {21, "ResolveRecipients"},
        {22, "ValidateCert"},
        {23, "Find"},
    };
    for (const auto& [code, name] : table) {
        Base64Query query;
        query.command_code = code;
        const EasParseResult result = post(base64_target(query));
        ASSERT_TRUE(result) << int{code} << ": " << result.error;
        EXPECT_EQ(result.request->command, name) << int{code};
    }
    for (const std::uint8_t unknown : {5, 6, 7, 8, 24, 25, 100, 255}) {
        Base64Query query;
        query.command_code = unknown;
        EXPECT_EQ(refusal(post(base64_target(query))),
                  "base64 query: unknown command code " + std::to_string(unknown));
    }
}

TEST(ParseEasRequest, DecodesTheProtocolVersionsTheSpecAllows) {
    for (const auto& [byte, version] : std::vector<std::pair<std::uint8_t, std::string>>{
             {121, "12.1"}, {140, "14.0"}, {141, "14.1"}, {160, "16.0"}, {161, "16.1"}}) {
        Base64Query query;
        query.protocol_version = byte;
        const EasParseResult result = post(base64_target(query), {.protocol_version = "2.5"});
        ASSERT_TRUE(result) << result.error;
        EXPECT_EQ(result.request->protocol_version, version);  // the query wins over the header
    }
    for (const std::uint8_t refused : {0, 25, 120, 142, 162, 255}) {
        Base64Query query;
        query.protocol_version = refused;
        EXPECT_EQ(refusal(post(base64_target(query))), "base64 query: protocol version " +
                                                           std::to_string(refused) +
                                                           " is not one of 121, 140, 141, 160, 161");
    }
}

TEST(ParseEasRequest, DecodesLocalePolicyKeyAndDeviceFields) {
    Base64Query query;
    query.command_code = 18;
    query.locale = 0x0c0a;
    query.policy_key = 0xdeadbeef;
    query.device_id = bytes_of("androidc1234567");
    query.device_type = bytes_of("Android");
    const EasParseResult result = post(base64_target(query), {.policy_key = "1"});
    ASSERT_TRUE(result) << result.error;
    EXPECT_EQ(result.request->command, "Ping");
    EXPECT_EQ(result.request->locale, "0x0C0A");
    EXPECT_EQ(result.request->policy_key, "3735928559");  // little-endian, and the query wins
    EXPECT_EQ(result.request->device_id, "androidc1234567");
    EXPECT_EQ(result.request->device_type, "Android");

    query.policy_key = 0;
    EXPECT_EQ(post(base64_target(query), {.policy_key = "1"}).request->policy_key, "0");
    query.policy_key.reset();
    EXPECT_EQ(post(base64_target(query), {.policy_key = "1107341573"}).request->policy_key, "1107341573");
    EXPECT_EQ(post(base64_target(query)).request->policy_key, "");
}

TEST(ParseEasRequest, RendersABinaryDeviceIdAsUpperCaseHex) {
    Base64Query query;
    // A GUID sent as its 16 raw bytes (MS-ASHTTP 2.2.1.1.1.1: "A string or a GUID").
    query.device_id = {0x6f, 0x9a, 0x19, 0x1d, 0x00, 0x3c, 0x4e, 0x6b,
                       0x91, 0xf2, 0x0d, 0xbe, 0xa1, 0x15, 0x2e, 0x7c};
    const EasParseResult result = post(base64_target(query));
    ASSERT_TRUE(result) << result.error;
    EXPECT_EQ(result.request->device_id, "6F9A191D003C4E6B91F20DBEA1152E7C");
    query.device_id = bytes_of("has space");  // not all visible: hex as well
    EXPECT_EQ(post(base64_target(query)).request->device_id, "686173207370616365");
}

TEST(ParseEasRequest, DecodesEveryParameterTag) {
    Base64Query query;
    query.command_code = 3;
    query.parameters = {{0, bytes_of("report.pdf")},
                        {1, bytes_of("5")},
                        {3, bytes_of("5:12")},
                        {4, bytes_of("RgAAAACnL")},
                        {6, bytes_of("20240105T0900Z")},
                        {7, {0x03}},
                        {8, bytes_of("alice@corp.example")}};
    const EasParseResult result = post(base64_target(query));
    ASSERT_TRUE(result) << result.error;
    const Parameters expected = {{"AttachmentName", "report.pdf"},
                                 {"CollectionId", "5"},
                                 {"ItemId", "5:12"},
                                 {"LongId", "RgAAAACnL"},
                                 {"Occurrence", "20240105T0900Z"},
                                 {"SaveInSent", "T"},
                                 {"AcceptMultiPart", "T"}};
    EXPECT_EQ(result.request->parameters, expected);
    EXPECT_EQ(result.request->user, "alice@corp.example");
    EXPECT_EQ(result.request->command, "SmartReply");
}

TEST(ParseEasRequest, DecodesOptionsBitsOneByOne) {
    const std::vector<std::pair<std::uint8_t, Parameters>> cases = {
        {0x00, {}}, {0x01, {{"SaveInSent", "T"}}}, {0x02, {{"AcceptMultiPart", "T"}}}};
    for (const auto& [flags, expected] : cases) {
        Base64Query query;
        query.parameters = {{7, {flags}}};
        const EasParseResult result = post(base64_target(query));
        ASSERT_TRUE(result) << result.error;
        EXPECT_EQ(result.request->parameters, expected) << int{flags};
    }
}

TEST(ParseEasRequest, AcceptsEveryBase64Spelling) {
    Base64Query query;
    // The DeviceId starts at offset 5, so bytes 6 to 8 and 9 to 11 encode to "++++" and "////".
    query.device_id = {'A', 0xfb, 0xef, 0xbe, 0xff, 0xff, 0xff};
    const Bytes structure = query.encode();
    const std::string standard = to_base64(structure);
    ASSERT_NE(standard.find('+'), std::string::npos);
    ASSERT_NE(standard.find('/'), std::string::npos);
    ASSERT_EQ(standard.back(), '=');
    std::string percent_encoded;
    for (const char character : standard) {
        if (character == '+') {
            percent_encoded += "%2B";
        } else if (character == '/') {
            percent_encoded += "%2f";
        } else if (character == '=') {
            percent_encoded += "%3D";
        } else {
            percent_encoded += character;
        }
    }
    const std::string spellings[] = {standard, to_base64(structure, Alphabet::url_safe),
                                     to_base64(structure, Alphabet::standard, false),
                                     to_base64(structure, Alphabet::url_safe, false), percent_encoded};
    for (const std::string& spelling : spellings) {
        const EasParseResult result = post(plain_target(spelling));
        ASSERT_TRUE(result) << spelling << ": " << result.error;
        EXPECT_TRUE(result.request->base64_query);
        EXPECT_EQ(result.request->device_id, "41FBEFBEFFFFFF") << spelling;
    }
}

TEST(ParseEasRequest, RefusesMalformedBase64Text) {
    const std::string valid = to_base64(Base64Query().encode());
    const std::vector<std::pair<std::string, std::string>> cases = {
        {valid.substr(0, 4) + "!" + valid.substr(5), "base64 query: byte 0x21 at offset 4 is not base64"},
        {valid.substr(0, 4) + "." + valid.substr(5), "base64 query: byte 0x2E at offset 4 is not base64"},
        {"jAAJB", "base64 query: 5 characters cannot be base64"},
        {"jAAJ===", "base64 query: padding is malformed"},
        {"jAAJBA=", "base64 query: padding is malformed"},
        {"jAAJ%3", "base64 query: malformed percent escape"},
    };
    for (const auto& [query, error] : cases) EXPECT_EQ(refusal(post(plain_target(query))), error) << query;
}

TEST(ParseEasRequest, RefusesMalformedBase64Structures) {
    const Bytes fixed = {141, 0, 0x09, 0x04};
    const auto with = [&fixed](std::initializer_list<std::uint8_t> tail) {
        Bytes bytes = fixed;
        bytes.insert(bytes.end(), tail);
        return bytes;
    };
    Bytes runs_past = with({40});
    runs_past.insert(runs_past.end(), 12, 'x');
    const Bytes valid = Base64Query().encode();  // parameters start at offset 19
    Bytes trailing_tag = valid;
    trailing_tag.push_back(1);
    Bytes unknown_tag = valid;
    unknown_tag.push_back(0x55);
    Bytes parameter_past_end = valid;
    parameter_past_end.insert(parameter_past_end.end(), {3, 9, 'a', 'b'});

    const std::vector<std::pair<Bytes, std::string>> cases = {
        {{141, 0}, "base64 query: 2 bytes is shorter than the 4-byte fixed part"},
        {fixed, "base64 query: ends before the DeviceId length"},
        {runs_past, "base64 query: DeviceId length 40 runs past the end (12 bytes left)"},
        {with({0, 0, 1, 't'}), "base64 query: DeviceId length is 0"},
        {with({1, 'd'}), "base64 query: ends before the PolicyKey length"},
        {with({1, 'd', 3, 1, 2, 3, 1, 't'}), "base64 query: PolicyKey length 3 is not 0 or 4"},
        {with({1, 'd', 4, 1, 2}), "base64 query: PolicyKey length 4 runs past the end (2 bytes left)"},
        {with({1, 'd', 0}), "base64 query: ends before the DeviceType length"},
        {with({1, 'd', 0, 0}), "base64 query: DeviceType is empty"},
        {with({1, 'd', 0, 2, 't', 0x7f}),
         "base64 query: DeviceType holds a character other than visible ASCII"},
        {with({1, 'd', 0, 5, 't'}), "base64 query: DeviceType length 5 runs past the end (1 bytes left)"},
        {trailing_tag, "base64 query: parameter CollectionId at offset 19 has no length"},
        {unknown_tag, "base64 query: unknown parameter tag 85"},
        {parameter_past_end, "base64 query: parameter ItemId length 9 runs past the end (2 bytes left)"},
    };
    for (const auto& [structure, error] : cases) {
        EXPECT_EQ(refusal(post(base64_target(structure))), error) << to_base64(structure);
    }
}

TEST(ParseEasRequest, RefusesMalformedBase64Parameters) {
    const std::vector<std::pair<std::vector<std::pair<std::uint8_t, Bytes>>, std::string>> cases = {
        {{{2, bytes_of("x")}}, "base64 query: unknown parameter tag 2"},
        {{{5, bytes_of("x")}}, "base64 query: unknown parameter tag 5"},
        {{{9, bytes_of("x")}}, "base64 query: unknown parameter tag 9"},
        {{{3, bytes_of("1")}, {3, bytes_of("2")}}, "base64 query: parameter ItemId appears more than once"},
        {{{8, bytes_of("a")}, {8, bytes_of("a")}}, "base64 query: parameter User appears more than once"},
        {{{1, {}}}, "base64 query: parameter CollectionId is empty"},
        {{{0, bytes_of("a\nb")}}, "base64 query: parameter AttachmentName holds a control character"},
        {{{8, bytes_of("bob\r")}}, "base64 query: parameter User holds a control character"},
        {{{7, {0x01, 0x00}}}, "base64 query: Options length 2 is not 1"},
        {{{7, {}}}, "base64 query: Options length 0 is not 1"},
        {{{7, {0x05}}}, "base64 query: Options has undefined bits 0x04"},
        {{{7, {0xff}}}, "base64 query: Options has undefined bits 0xFC"},
    };
    for (const auto& [parameters, error] : cases) {
        Base64Query query;
        query.parameters = parameters;
        EXPECT_EQ(refusal(post(base64_target(query))), error);
    }
    Base64Query empty_user;
    empty_user.parameters = {{8, {}}};
    EXPECT_TRUE(post(base64_target(empty_user)));  // as the plain form's "User="
}

// A valid structure cut short is refused, except where the cut falls between two parameters:
// that is a valid request with fewer parameters.
TEST(ParseEasRequest, EveryTruncatedBase64StructureIsRefusedUnlessItEndsOnAParameter) {
    Base64Query query;
    query.policy_key = 7;
    query.parameters = {{1, bytes_of("5")}, {3, bytes_of("5:12")}, {7, {0x01}}, {8, bytes_of("alice")}};
    const Bytes structure = query.encode();
    std::vector<std::size_t> parameter_ends = {4 + 1 + 6 + 1 + 4 + 1 + 6};
    for (const auto& [tag, value] : query.parameters) {
        parameter_ends.push_back(parameter_ends.back() + 2 + value.size());
    }
    ASSERT_EQ(parameter_ends.back(), structure.size());
    for (std::size_t length = 0; length < structure.size(); ++length) {
        const EasParseResult result =
            post(base64_target(Bytes(structure.begin(), structure.begin() + length)));
        const bool ends_on_parameter =
            std::find(parameter_ends.begin(), parameter_ends.end(), length) != parameter_ends.end();
        EXPECT_EQ(static_cast<bool>(result), ends_on_parameter) << length << ": " << result.error;
    }
}

}  // namespace
}  // namespace easgate::eas
