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

}  // namespace
}  // namespace easgate::upstream
