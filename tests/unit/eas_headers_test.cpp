#include "easgate/listener/eas_headers.hpp"

#include <gtest/gtest.h>

namespace easgate::listener {
namespace {

namespace http = boost::beast::http;

// The first of each is read, and a field sent again is told (User-Agent apart, as it is judged on
// every path): the parse refuses the request.
TEST(EasHeadersOf, TakesTheFirstOfEachFieldWhateverTheCaseOfItsNameAndNamesARepeatedOne) {
    common::RequestHeader header;
    header.insert("ms-asprotocolversion", "14.1");
    header.insert("X-MS-PolicyKey", "1234");
    header.insert("ms-ASPROTOCOLversion", "16.1");  // a second one: header[name] gives the first
    header.insert(http::field::user_agent, "Apple-iPhone15C2/2008.59");
    header.insert("X-MS-POLICYKEY", "5678");
    header.insert("User-Agent", "second");
    const auto found = eas_headers_of(header);
    EXPECT_EQ(found.protocol_version, header["MS-ASProtocolVersion"]);
    EXPECT_EQ(found.protocol_version, "14.1");
    EXPECT_EQ(found.policy_key, "1234");
    EXPECT_EQ(found.user_agent, "Apple-iPhone15C2/2008.59");
    EXPECT_TRUE(found.user_agent_repeated);
    EXPECT_EQ(found.repeated, "MS-ASProtocolVersion");
    common::RequestHeader without_agent;
    without_agent.insert("X-MS-PolicyKey", "1");
    without_agent.insert("User-Agent", "Apple-iPhone15C2/2008.59");
    without_agent.insert("x-ms-policykey", "2");
    without_agent.insert("MS-ASProtocolVersion", "14.1");
    without_agent.insert("MS-ASProtocolVersion", "16.1");
    EXPECT_FALSE(eas_headers_of(without_agent).user_agent_repeated);
    EXPECT_EQ(eas_headers_of(without_agent).repeated, "X-MS-PolicyKey");
}

TEST(EasHeadersOf, AnAbsentFieldIsEmptyAndALongerNameIsNotIt) {
    common::RequestHeader header;
    header.insert("MS-ASProtocolVersions", "16.1");
    header.insert("X-MS-PolicyKey-Old", "1");
    header.insert(http::field::host, "mail.example.test");
    const auto found = eas_headers_of(header);
    EXPECT_EQ(found.protocol_version, "");
    EXPECT_EQ(found.policy_key, "");
    EXPECT_EQ(found.user_agent, "");
    EXPECT_EQ(found.repeated, "");
    EXPECT_FALSE(found.user_agent_repeated);
}

TEST(EasHeadersOf, NamesTheFieldsThePolicyJudges) {
    for (const char* name : {"User-Agent", "ms-asprotocolversion", "X-MS-PolicyKey"})
        EXPECT_TRUE(is_eas_header(name));
    for (const char* name : {"X-MS-PolicyKeys", "Accept", "MS-ASAcceptMultiPart"})
        EXPECT_FALSE(is_eas_header(name));
}

}  // namespace
}  // namespace easgate::listener
