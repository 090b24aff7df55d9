#include <gtest/gtest.h>

#include <string>

#include "easgate/directory/directory_client.hpp"

namespace easgate::directory {
namespace {

TEST(EscapeFilterValue, LeavesAnOrdinaryUpnAlone) {
    EXPECT_EQ(escape_filter_value("alice.smith-2@corp.example.com"), "alice.smith-2@corp.example.com");
}

TEST(EscapeFilterValue, EscapesTheRfc4515Metacharacters) {
    EXPECT_EQ(escape_filter_value("*"), "\\2a");
    EXPECT_EQ(escape_filter_value("("), "\\28");
    EXPECT_EQ(escape_filter_value(")"), "\\29");
    EXPECT_EQ(escape_filter_value("\\"), "\\5c");
    EXPECT_EQ(escape_filter_value(std::string("a\0b", 3)), "a\\00b");
}

TEST(EscapeFilterValue, DefusesAnInjectionAttempt) {
    EXPECT_EQ(escape_filter_value("alice)(uid=*"), "alice\\29\\28uid=\\2a");
    EXPECT_EQ(escape_filter_value("*)(|(objectClass=*"), "\\2a\\29\\28|\\28objectClass=\\2a");
}

TEST(EscapeFilterValue, EscapesEveryNonAsciiByte) {
    EXPECT_EQ(escape_filter_value("j\xc3\xb6rg"), "j\\c3\\b6rg");  // "jörg" in UTF-8
    EXPECT_EQ(escape_filter_value("\x80\xff"), "\\80\\ff");        // not UTF-8 at all: still only bytes
}

TEST(EscapeFilterValue, EmptyStaysEmpty) { EXPECT_EQ(escape_filter_value(""), ""); }

}  // namespace
}  // namespace easgate::directory
