#include "easgate/eas/eas_request.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace easgate::eas {
namespace {

using Bytes = std::vector<std::uint8_t>;
using Parameters = std::vector<std::pair<std::string, std::string>>;

constexpr std::string_view active_sync = "/Microsoft-Server-ActiveSync";

Bytes bytes_of(std::string_view text) { return {text.begin(), text.end()}; }

// The byte structure of MS-ASHTTP 2.2.1.1.1.1, built field by field so each test states only
// what it varies. Lengths are taken from the fields unless a test overrides them to lie.
struct Base64Query {
    std::uint8_t protocol_version = 141;
    std::uint8_t command_code = 0;
    std::uint16_t locale = 0x0409;
    Bytes device_id = bytes_of("ABC123");
    std::optional<std::uint32_t> policy_key;
    Bytes device_type = bytes_of("iPhone");
    std::vector<std::pair<std::uint8_t, Bytes>> parameters;

    Bytes encode() const {
        Bytes bytes = {protocol_version, command_code, static_cast<std::uint8_t>(locale & 0xff),
                       static_cast<std::uint8_t>(locale >> 8)};
        bytes.push_back(static_cast<std::uint8_t>(device_id.size()));
        bytes.insert(bytes.end(), device_id.begin(), device_id.end());
        if (policy_key) {
            bytes.push_back(4);
            for (int shift = 0; shift < 32; shift += 8) {
                bytes.push_back(static_cast<std::uint8_t>(*policy_key >> shift));
            }
        } else {
            bytes.push_back(0);
        }
        bytes.push_back(static_cast<std::uint8_t>(device_type.size()));
        bytes.insert(bytes.end(), device_type.begin(), device_type.end());
        for (const auto& [tag, value] : parameters) {
            bytes.push_back(tag);
            bytes.push_back(static_cast<std::uint8_t>(value.size()));
            bytes.insert(bytes.end(), value.begin(), value.end());
        }
        return bytes;
    }
};

enum class Alphabet { standard, url_safe };

std::string to_base64(const Bytes& bytes, Alphabet alphabet = Alphabet::standard, bool padded = true) {
    const std::string digits = alphabet == Alphabet::standard
                                   ? "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
                                   : "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    std::string text;
    for (std::size_t start = 0; start < bytes.size(); start += 3) {
        const std::size_t count = std::min<std::size_t>(3, bytes.size() - start);
        std::uint32_t group = 0;
        for (std::size_t index = 0; index < 3; ++index) {
            group = (group << 8) | (index < count ? bytes[start + index] : 0);
        }
        for (std::size_t index = 0; index < 4; ++index) {
            if (index <= count) {
                text += digits[(group >> (18 - 6 * index)) & 0x3f];
            } else if (padded) {
                text += '=';
            }
        }
    }
    return text;
}

// Percent-encodes every byte that is not a letter or digit, so any value survives a plain query.
std::string percent_encode(std::string_view text) {
    constexpr std::string_view hex = "0123456789ABCDEF";
    std::string encoded;
    for (const char character : text) {
        const auto byte = static_cast<unsigned char>(character);
        if (std::isalnum(byte)) {
            encoded += character;
        } else {
            encoded += '%';
            encoded += hex[byte >> 4];
            encoded += hex[byte & 0x0f];
        }
    }
    return encoded;
}

std::string base64_target(const Base64Query& query) {
    return std::string(active_sync) + "?" + to_base64(query.encode());
}
std::string base64_target(const Bytes& structure) {
    return std::string(active_sync) + "?" + to_base64(structure);
}

EasParseResult post(std::string_view target, const EasHeaders& headers = {}) {
    return parse_eas_request("POST", target, headers);
}

std::string plain_target(std::string_view query) {
    return std::string(active_sync) + "?" + std::string(query);
}

// The error for a target that must be refused, or a failure naming what was decoded instead.
std::string refusal(const EasParseResult& result) {
    if (result) return "accepted: command " + result.request->command;
    return result.error;
}

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

// ---- Plain form -----------------------------------------------------------------------------------

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

// ---- Base64 form ----------------------------------------------------------------------------------

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

// ---- Corpus: deterministic mutations of valid requests -----------------------------------------

constexpr std::uint32_t corpus_seed = 20240611;
constexpr std::uint8_t fixed_masks[] = {0x01, 0x80, 0xff};

std::vector<std::uint8_t> masks_for_position(std::mt19937& random) {
    std::vector<std::uint8_t> masks(std::begin(fixed_masks), std::end(fixed_masks));
    masks.push_back(static_cast<std::uint8_t>(std::uniform_int_distribution<int>(1, 255)(random)));
    return masks;
}

bool has_control_character(std::string_view text) {
    return std::any_of(text.begin(), text.end(), [](char c) {
        const auto byte = static_cast<unsigned char>(c);
        return byte < 0x20 || byte == 0x7f;
    });
}

bool is_visible_ascii_text(std::string_view text) {
    return !text.empty() && std::all_of(text.begin(), text.end(), [](char c) {
        const auto byte = static_cast<unsigned char>(c);
        return byte > 0x20 && byte < 0x7f;
    });
}

// The contract restated independently of the implementation.
::testing::AssertionResult refused_or_valid(const EasParseResult& result, std::string_view method) {
    if (!result) {
        if (result.error.empty()) return ::testing::AssertionFailure() << "refused without a reason";
        return ::testing::AssertionSuccess();
    }
    if (!result.error.empty()) return ::testing::AssertionFailure() << "request with error " << result.error;
    const EasRequest& request = *result.request;
    if (request.path != EasPath::active_sync) {
        if (!request.command.empty() || !request.device_id.empty() || !request.parameters.empty()) {
            return ::testing::AssertionFailure() << "query read for a path other than ActiveSync";
        }
        return ::testing::AssertionSuccess();
    }
    if (method != "OPTIONS") {
        if (request.command.empty()) return ::testing::AssertionFailure() << "no command";
        if (!is_visible_ascii_text(request.device_id)) return ::testing::AssertionFailure() << "bad DeviceId";
        if (!is_visible_ascii_text(request.device_type)) {
            return ::testing::AssertionFailure() << "bad DeviceType";
        }
    } else if (!request.command.empty()) {
        return ::testing::AssertionFailure() << "OPTIONS with a command";
    }
    if (request.device_id.size() > max_device_id_bytes) {
        return ::testing::AssertionFailure() << "long DeviceId";
    }
    if (request.parameters.size() > max_query_parameters) return ::testing::AssertionFailure() << "too many";
    if (has_control_character(request.user)) return ::testing::AssertionFailure() << "control in User";
    for (const auto& [name, value] : request.parameters) {
        if (name.empty() || has_control_character(value)) {
            return ::testing::AssertionFailure() << "bad parameter";
        }
    }
    if (request.base64_query) {
        const std::vector<std::string> versions = {"12.1", "14.0", "14.1", "16.0", "16.1"};
        const bool locale_ok = request.locale.size() == 6 && request.locale.starts_with("0x") &&
                               request.locale.find_first_not_of("0123456789ABCDEF", 2) == std::string::npos;
        if (std::find(versions.begin(), versions.end(), request.protocol_version) == versions.end() ||
            !locale_ok) {
            return ::testing::AssertionFailure() << "bad version or locale";
        }
    }
    return ::testing::AssertionSuccess();
}

// An accepted POST re-sent in the plain form must decode to the same request: the two decoders
// agree, and nothing accepted is lost or altered on the way.
::testing::AssertionResult survives_plain_round_trip(const EasRequest& request) {
    std::string query = "Cmd=" + percent_encode(request.command) + "&User=" + percent_encode(request.user) +
                        "&DeviceId=" + percent_encode(request.device_id) +
                        "&DeviceType=" + percent_encode(request.device_type);
    for (const auto& [name, value] : request.parameters) query += "&" + name + "=" + percent_encode(value);
    const EasParseResult again = post(plain_target(query), {.protocol_version = request.protocol_version,
                                                            .policy_key = request.policy_key,
                                                            .user_agent = request.user_agent});
    if (!again) return ::testing::AssertionFailure() << "plain form refused: " << again.error;
    const EasRequest& copy = *again.request;
    if (copy.command != request.command || copy.user != request.user || copy.device_id != request.device_id ||
        copy.device_type != request.device_type || copy.protocol_version != request.protocol_version ||
        copy.policy_key != request.policy_key || copy.parameters != request.parameters) {
        return ::testing::AssertionFailure() << "plain form decoded differently";
    }
    return ::testing::AssertionSuccess();
}

class EasRequestCorpusTest : public ::testing::Test {
protected:
    static std::vector<Base64Query> structures() {
        Base64Query sync;
        Base64Query smart_reply;
        smart_reply.command_code = 3;
        smart_reply.policy_key = 3942919513u;
        smart_reply.parameters = {
            {1, bytes_of("5")}, {3, bytes_of("5:12")}, {7, {0x01}}, {8, bytes_of("alice")}};
        Base64Query attachment;
        attachment.command_code = 4;
        attachment.protocol_version = 121;
        attachment.device_id = {0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99};
        attachment.parameters = {{0, bytes_of("5:12:1")}, {6, bytes_of("x")}, {4, bytes_of("RgAA")}};
        return {sync, smart_reply, attachment};
    }

    static std::vector<std::string> targets() {
        std::vector<std::string> seeds = {
            "/Microsoft-Server-ActiveSync?jAAJBAp2MTQwRGV2aWNlAApTbWFydFBob25l",
            plain_target("Cmd=Sync&User=rmjones&DeviceId=v140Device&DeviceType=SmartPhone"),
            plain_target("Cmd=SmartForward&User=alice%40corp.example&DeviceId=ABC123&DeviceType=iPhone"
                         "&ItemId=5%3A12&CollectionId=5&SaveInSent=T"),
            plain_target("Cmd=Ping&User=DOMAIN%5Cbob&DeviceId=androidc1&DeviceType=Android"),
        };
        for (const Base64Query& structure : structures()) seeds.push_back(base64_target(structure));
        return seeds;
    }
};

// Otherwise every test below could pass by refusing everything.
TEST_F(EasRequestCorpusTest, SeedsAreAcceptedAndSurviveTheRoundTrip) {
    for (const std::string& target : targets()) {
        const EasParseResult result = post(target);
        ASSERT_TRUE(result) << target << ": " << result.error;
        EXPECT_TRUE(survives_plain_round_trip(*result.request)) << target;
    }
}

TEST_F(EasRequestCorpusTest, TextMutationsAreRefusedOrValid) {
    std::mt19937 random(corpus_seed);
    std::size_t accepted = 0;
    std::size_t refused = 0;
    for (const std::string& target : targets()) {
        for (const char* method : {"POST", "OPTIONS"}) {
            for (std::size_t position = 0; position < target.size(); ++position) {
                for (const std::uint8_t mask : masks_for_position(random)) {
                    std::string mutated = target;
                    mutated[position] = static_cast<char>(mutated[position] ^ mask);
                    const EasParseResult result =
                        parse_eas_request(method, mutated, {.protocol_version = "14.1"});
                    EXPECT_TRUE(refused_or_valid(result, method)) << mutated;
                    if (result && std::string_view(method) == "POST" &&
                        result.request->path == EasPath::active_sync) {
                        EXPECT_TRUE(survives_plain_round_trip(*result.request)) << mutated;
                    }
                    ++(result ? accepted : refused);
                }
            }
            for (std::size_t length = 0; length < target.size(); ++length) {
                const EasParseResult result = parse_eas_request(method, target.substr(0, length), {});
                EXPECT_TRUE(refused_or_valid(result, method)) << target.substr(0, length);
                ++(result ? accepted : refused);
            }
        }
    }
    EXPECT_GT(accepted, 500u);
    EXPECT_GT(refused, 500u);
}

// Mutating the decoded bytes and re-encoding reaches the structure decoder, which text mutations
// mostly stop short of.
TEST_F(EasRequestCorpusTest, StructureMutationsAreRefusedOrValid) {
    std::mt19937 random(corpus_seed);
    std::size_t accepted = 0;
    std::size_t refused = 0;
    for (const Base64Query& query : structures()) {
        const Bytes structure = query.encode();
        const auto check = [&](const Bytes& mutated) {
            const EasParseResult result = post(base64_target(mutated));
            EXPECT_TRUE(refused_or_valid(result, "POST")) << to_base64(mutated);
            if (result) {
                EXPECT_TRUE(survives_plain_round_trip(*result.request)) << to_base64(mutated);
            }
            ++(result ? accepted : refused);
        };
        for (std::size_t position = 0; position < structure.size(); ++position) {
            for (const std::uint8_t mask : masks_for_position(random)) {
                Bytes mutated = structure;
                mutated[position] ^= mask;
                check(mutated);
            }
            Bytes inserted = structure;
            inserted.insert(inserted.begin() + static_cast<std::ptrdiff_t>(position),
                            static_cast<std::uint8_t>(random()));
            check(inserted);
            Bytes removed = structure;
            removed.erase(removed.begin() + static_cast<std::ptrdiff_t>(position));
            check(removed);
        }
    }
    EXPECT_GT(accepted, 50u);
    EXPECT_GT(refused, 200u);
}

TEST_F(EasRequestCorpusTest, RandomQueriesAreRefusedOrValid) {
    std::mt19937 random(corpus_seed);
    const std::string alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/-_=%&";
    std::uniform_int_distribution<std::size_t> character(0, alphabet.size() - 1);
    std::uniform_int_distribution<std::size_t> length(0, 120);
    std::uniform_int_distribution<int> byte(0, 255);
    std::size_t refused = 0;
    for (int round = 0; round < 3000; ++round) {
        std::string query;
        if (round % 3 == 0) {
            // Random bytes behind a valid fixed part, to get into the variable fields.
            Bytes structure = {141, static_cast<std::uint8_t>(byte(random) % 24), 0x09, 0x04};
            for (std::size_t index = length(random) / 2; index > 0; --index) {
                structure.push_back(static_cast<std::uint8_t>(byte(random) % 12));
            }
            query = to_base64(structure);
        } else {
            for (std::size_t index = length(random); index > 0; --index) query += alphabet[character(random)];
        }
        const EasParseResult result = post(plain_target(query));
        EXPECT_TRUE(refused_or_valid(result, "POST")) << query;
        if (result) {
            EXPECT_TRUE(survives_plain_round_trip(*result.request)) << query;
        }
        refused += result ? 0 : 1;
    }
    EXPECT_GT(refused, 2000u);
}

}  // namespace
}  // namespace easgate::eas
