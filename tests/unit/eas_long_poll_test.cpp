#include <gtest/gtest.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <utility>
#include <vector>

#include "eas_wbxml_builder.hpp"
#include "easgate/eas/long_poll.hpp"

namespace easgate::eas {
namespace {

using std::chrono::seconds;
using test::airsync_page;
using test::Bytes;
using test::collection;
using test::collections;
using test::folder;
using test::folder_class;
using test::folder_id;
using test::folders;
using test::interval;
using test::ping;
using test::ping_body;
using test::ping_heartbeat_interval;
using test::ping_page;
using test::sync;
using test::sync_body;
using test::sync_heartbeat_interval;
using test::sync_key;
using test::wait;
using test::Wbxml;

TEST(LongPollInterval, ReadsThePingHeartbeatIntervalOfTheBriefsExample) {
    // SWITCH_PAGE 13, <Ping>, <HeartbeatInterval>, STR_I "90", END, END.
    const Bytes body = {0x03, 0x01, 0x6a, 0x00, 0x00, 0x0d, 0x45, 0x48, 0x03, 0x39, 0x30, 0x00, 0x01, 0x01};
    EXPECT_EQ(ping_body("90").bytes(), body);
    EXPECT_EQ(long_poll_interval("Ping", body), seconds(90));
}

TEST(LongPollInterval, ReadsPingWithFoldersInEitherOrder) {
    Wbxml folders_last = Wbxml().page(ping_page).open(ping).element(ping_heartbeat_interval, "480");
    folders_last.open(folders)
        .open(folder)
        .element(folder_id, "5")
        .element(folder_class, "Email")
        .end()
        .end()
        .end();
    EXPECT_EQ(interval("Ping", folders_last), seconds(480));

    Wbxml folders_first = Wbxml().page(ping_page).open(ping);
    folders_first.open(folders)
        .open(folder)
        .element(folder_id, "5")
        .element(folder_class, "Email")
        .end()
        .end();
    folders_first.element(ping_heartbeat_interval, "3540").end();
    EXPECT_EQ(interval("Ping", folders_first), seconds(3540));
}

TEST(LongPollInterval, ConvertsSyncWaitFromMinutesAndReadsSyncHeartbeatInSeconds) {
    EXPECT_EQ(interval("Sync", sync_body(wait, "5")), seconds(300));
    EXPECT_EQ(interval("Sync", sync_body(wait, "59")), seconds(3540));
    EXPECT_EQ(interval("Sync", sync_body(sync_heartbeat_interval, "600")), seconds(600));
    // The spec's own encoding starts in code page 0 without a SWITCH_PAGE; an explicit one is fine too.
    EXPECT_EQ(interval("Sync", Wbxml().page(airsync_page).open(sync).element(wait, "1").end()), seconds(60));
}

TEST(LongPollInterval, ReportsNothingWhenTheBodyAsksForNothing) {
    EXPECT_EQ(long_poll_interval("Ping", {}), std::nullopt);  // the server reuses its cached interval
    Wbxml folders_only = Wbxml().page(ping_page).open(ping);
    folders_only.open(folders)
        .open(folder)
        .element(folder_id, "5")
        .element(folder_class, "Email")
        .end()
        .end()
        .end();
    EXPECT_EQ(interval("Ping", folders_only.end()), std::nullopt);
    EXPECT_EQ(interval("Ping", Wbxml().page(ping_page).empty(ping)), std::nullopt);
    Wbxml plain_sync;
    plain_sync.open(sync).open(collections).open(collection).element(sync_key, "1").end().end().end();
    EXPECT_EQ(interval("Sync", plain_sync), std::nullopt);
}

TEST(LongPollInterval, OnlyPingAndSyncAreLongPolls) {
    for (const char* command : {"FolderSync", "ItemOperations", "", "ping", "SYNC", "Pingx"}) {
        EXPECT_EQ(interval(command, ping_body("90")), std::nullopt) << command;
        EXPECT_EQ(interval(command, sync_body(wait, "5")), std::nullopt) << command;
    }
    // The body must be the command's own: tokens of the other page mean other elements.
    EXPECT_EQ(interval("Sync", ping_body("90")), std::nullopt);
    EXPECT_EQ(interval("Ping", sync_body(wait, "5")), std::nullopt);
    EXPECT_EQ(interval("Ping", Wbxml().open(ping).element(ping_heartbeat_interval, "90").end()),
              std::nullopt);
}

TEST(LongPollInterval, ReadsOnlyDirectChildrenOfTheTopLevelElement) {
    Wbxml nested;
    nested.open(sync).open(collections).open(collection).element(wait, "5").end().end().end();
    EXPECT_EQ(interval("Sync", nested), std::nullopt);
}

TEST(LongPollInterval, RefusesBothIntervalsOrOneTwice) {
    EXPECT_EQ(
        interval("Sync", Wbxml().open(sync).element(wait, "5").element(sync_heartbeat_interval, "300").end()),
        std::nullopt);
    EXPECT_EQ(interval("Sync", Wbxml().open(sync).element(wait, "5").element(wait, "5").end()), std::nullopt);
    EXPECT_EQ(interval("Ping", Wbxml()
                                   .page(ping_page)
                                   .open(ping)
                                   .element(ping_heartbeat_interval, "90")
                                   .element(ping_heartbeat_interval, "90")
                                   .end()),
              std::nullopt);
}

TEST(LongPollInterval, AcceptsTheValueAsOpaqueSplitStringsOrCharacterEntities) {
    EXPECT_EQ(
        interval("Ping",
                 Wbxml().page(ping_page).open(ping).open(ping_heartbeat_interval).opaque("120").end().end()),
        seconds(120));
    EXPECT_EQ(interval("Ping", Wbxml()
                                   .page(ping_page)
                                   .open(ping)
                                   .open(ping_heartbeat_interval)
                                   .text("1")
                                   .text("20")
                                   .end()
                                   .end()),
              seconds(120));
    // ENTITY 0x32 is '2'; SWITCH_PAGE inside the value changes nothing.
    EXPECT_EQ(interval("Ping", Wbxml()
                                   .page(ping_page)
                                   .open(ping)
                                   .open(ping_heartbeat_interval)
                                   .text("1")
                                   .raw({0x02, 0x32})
                                   .page(ping_page)
                                   .opaque("0")
                                   .end()
                                   .end()),
              seconds(120));
    EXPECT_EQ(interval("Ping", Wbxml()
                                   .page(ping_page)
                                   .open(ping)
                                   .open(ping_heartbeat_interval)
                                   .text("1")
                                   .raw({0x02, 0x41})
                                   .end()
                                   .end()),
              std::nullopt);
}

TEST(LongPollInterval, AcceptsOnlyDecimalDigitsUpToADay) {
    EXPECT_EQ(interval("Ping", ping_body("0")), seconds(0));
    EXPECT_EQ(interval("Ping", ping_body("0090")), seconds(90));
    EXPECT_EQ(interval("Ping", ping_body("86400")), seconds(86400));
    EXPECT_EQ(interval("Sync", sync_body(wait, "1440")), seconds(86400));
    for (const char* value :
         {"", "9a", " 90", "90 ", "-5", "+5", "1e3", "0x5A", "86401", "9999999999", "12345678901"}) {
        EXPECT_EQ(interval("Ping", ping_body(value)), std::nullopt) << value;
    }
    EXPECT_EQ(interval("Sync", sync_body(wait, "1441")), std::nullopt);
    EXPECT_EQ(interval("Ping", Wbxml().page(ping_page).open(ping).empty(ping_heartbeat_interval).end()),
              std::nullopt);
}

TEST(LongPollInterval, ChecksTheHeader) {
    const auto with_header = [](std::initializer_list<std::uint8_t> header) {
        return std::move(Wbxml::with_header(header)
                             .page(ping_page)
                             .open(ping)
                             .element(ping_heartbeat_interval, "90")
                             .end());
    };
    EXPECT_EQ(interval("Ping", with_header({0x03, 0x01, 0x6a, 0x00})), seconds(90));
    EXPECT_EQ(interval("Ping", with_header({0x03, 0x00, 0x00, 0x6a, 0x00})),
              seconds(90));  // public id by index
    EXPECT_EQ(interval("Ping", with_header({0x03, 0x01, 0x80, 0x6a, 0x00})),
              seconds(90));  // mb_u_int32, 2 bytes
    EXPECT_EQ(interval("Ping", with_header({0x03, 0x01, 0x6a, 0x03, 'a', 0, 'b'})),
              seconds(90));                                                                  // table skipped
    EXPECT_EQ(interval("Ping", with_header({0x02, 0x01, 0x6a, 0x00})), std::nullopt);        // WBXML 1.2
    EXPECT_EQ(interval("Ping", with_header({0x03, 0x01, 0x04, 0x00})), std::nullopt);        // ISO-8859-1
    EXPECT_EQ(interval("Ping", with_header({0x03, 0x01, 0x87, 0x68, 0x00})), std::nullopt);  // UTF-16 (1000)
    EXPECT_EQ(interval("Ping", with_header({0x03, 0x81, 0x81, 0x81, 0x81, 0x81, 0x01, 0x6a, 0x00})),
              std::nullopt);  // mb_u_int32 of 6 bytes
    EXPECT_EQ(interval("Ping", with_header({0x03, 0x9f, 0xff, 0xff, 0xff, 0x7f, 0x6a, 0x00})),
              std::nullopt);  // over 32 bits
    EXPECT_EQ(long_poll_interval("Ping", Bytes{0x03, 0x01, 0x6a, 0x05, 'a'}),
              std::nullopt);  // table past the end
    EXPECT_EQ(long_poll_interval("Ping", Bytes{0x03, 0x01, 0x6a}), std::nullopt);
}

TEST(LongPollInterval, RefusesTokensEasDoesNotUse) {
    const auto ping_with = [](std::initializer_list<std::uint8_t> inside) {
        return std::move(
            Wbxml().page(ping_page).open(ping).raw(inside).element(ping_heartbeat_interval, "90").end());
    };
    EXPECT_EQ(interval("Ping", ping_with({})), seconds(90));
    EXPECT_EQ(interval("Ping", ping_with({0x02, 0x41})), seconds(90));  // an entity elsewhere is fine
    for (const std::uint8_t token : {0x04, 0x40, 0x41, 0x42, 0x43, 0x44, 0x80, 0x81, 0x82, 0x83, 0x84, 0xc0,
                                     0xc1, 0xc2, 0xc4, 0x85, 0xc9}) {
        EXPECT_EQ(interval("Ping", ping_with({token, 0x00, 0x00})), std::nullopt) << int{token};
    }
}

TEST(LongPollInterval, RefusesMalformedStructure) {
    const std::vector<std::pair<std::string, Wbxml>> cases = {
        {"unterminated string",
         Wbxml().page(ping_page).open(ping).open(ping_heartbeat_interval).raw({0x03, '9'})},
        {"opaque past the end",
         Wbxml().page(ping_page).open(ping).open(ping_heartbeat_interval).raw({0xc3, 5, '9'})},
        {"missing END", Wbxml().page(ping_page).open(ping).element(ping_heartbeat_interval, "90")},
        {"extra END", ping_body("90").end()},
        {"trailing byte", ping_body("90").raw({0x00})},
        {"trailing SWITCH_PAGE", ping_body("90").page(ping_page)},
        {"second document", ping_body("90").open(ping).end()},
        {"tag inside the value",
         Wbxml().page(ping_page).open(ping).open(ping_heartbeat_interval).empty(folders).end().end()},
        {"text outside any element", Wbxml().text("90").page(ping_page).open(ping).end()},
        {"SWITCH_PAGE without a page", Wbxml().page(ping_page).open(ping).raw({0x00})},
    };
    for (const auto& [name, body] : cases) EXPECT_EQ(interval("Ping", body), std::nullopt) << name;
}

TEST(LongPollInterval, LimitsNestingTo32Elements) {
    const auto nested = [](int depth) {
        Wbxml body;
        body.open(sync).element(wait, "5");
        for (int level = 1; level < depth; ++level) body.open(collection);
        for (int level = 1; level < depth; ++level) body.end();
        return std::move(body.end());
    };
    EXPECT_EQ(interval("Sync", nested(32)), seconds(300));
    EXPECT_EQ(interval("Sync", nested(33)), std::nullopt);
}

TEST(LongPollInterval, DecodesBodiesUpTo64KiB) {
    const auto padded = [](std::size_t size) {
        Wbxml body;
        body.open(sync).open(collections).open(collection);
        // Opaque token and its 3-byte length, then END END, <Wait>"5"</Wait> and END.
        const std::size_t overhead = 4 + 2 + 5 + 1;
        body.opaque(std::string(size - body.size() - overhead, 'x'));
        body.end().end().element(wait, "5").end();
        return body;
    };
    const Wbxml at_limit = padded(max_long_poll_body_bytes);
    ASSERT_EQ(at_limit.size(), max_long_poll_body_bytes);
    EXPECT_EQ(interval("Sync", at_limit), seconds(300));
    const Wbxml over_limit = padded(max_long_poll_body_bytes + 1);
    ASSERT_EQ(over_limit.size(), max_long_poll_body_bytes + 1);
    EXPECT_EQ(interval("Sync", over_limit), std::nullopt);
}

}  // namespace
}  // namespace easgate::eas
