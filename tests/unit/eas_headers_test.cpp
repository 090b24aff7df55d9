#include "easgate/listener/eas_headers.hpp"

#include <gtest/gtest.h>

namespace easgate::listener {
namespace {

namespace http = boost::beast::http;

TEST(EasHeadersOf, TakesTheFirstOfEachFieldWhateverTheCaseOfItsName) {
    common::RequestHeader header;
    header.insert("ms-asprotocolversion", "14.1");
    header.insert("X-MS-PolicyKey", "1234");
    header.insert("MS-ASProtocolVersion", "16.1");  // a second one: header[name] gives the first
    header.insert(http::field::user_agent, "Apple-iPhone15C2/2008.59");
    header.insert("X-MS-POLICYKEY", "5678");
    header.insert("User-Agent", "second");
    const auto found = eas_headers_of(header);
    EXPECT_EQ(found.protocol_version, header["MS-ASProtocolVersion"]);
    EXPECT_EQ(found.protocol_version, "14.1");
    EXPECT_EQ(found.policy_key, "1234");
    EXPECT_EQ(found.user_agent, "Apple-iPhone15C2/2008.59");
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
}

}  // namespace
}  // namespace easgate::listener
