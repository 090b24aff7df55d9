#include "easgate/upstream/mailbox_redirect.hpp"

#include <gtest/gtest.h>

namespace easgate::upstream {
namespace {

TEST(MailboxRedirect, TheLocationsServerAndPathAreSeparated) {
    const auto parsed = parse_mailbox_location("https://Mail2.Example.com:8443/Microsoft-Server-ActiveSync");
    ASSERT_TRUE(parsed);
    EXPECT_EQ(parsed->server.host, "Mail2.Example.com");
    EXPECT_EQ(parsed->server.port, 8443);
    EXPECT_TRUE(parsed->server.tls);
    EXPECT_EQ(parsed->path, "/Microsoft-Server-ActiveSync");
    EXPECT_EQ(location_on_gateway(*parsed, "eas.example.com"),
              "https://eas.example.com/Microsoft-Server-ActiveSync");
}

TEST(MailboxRedirect, AServerWithoutAPathKeepsTheRoot) {
    const auto parsed = parse_mailbox_location("http://mail2");
    ASSERT_TRUE(parsed);
    EXPECT_EQ(parsed->server.port, 80);
    EXPECT_EQ(location_on_gateway(*parsed, "gw:8443"), "https://gw:8443/");
}

TEST(MailboxRedirect, WhatIsNotAnAbsoluteHttpUrlIsRefused) {
    EXPECT_FALSE(parse_mailbox_location(""));
    EXPECT_FALSE(parse_mailbox_location("/Microsoft-Server-ActiveSync"));
    EXPECT_FALSE(parse_mailbox_location("ftp://mail2/x"));
    EXPECT_FALSE(parse_mailbox_location("https://user@mail2/x"));
}

}  // namespace
}  // namespace easgate::upstream
