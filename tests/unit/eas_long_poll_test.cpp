#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <random>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "easgate/eas/long_poll.hpp"

namespace easgate::eas {
namespace {

using Bytes = std::vector<std::uint8_t>;
using std::chrono::seconds;

// Tokens from MS-ASWBXML 2.1.2.1.1 (AirSync, code page 0) and 2.1.2.1.14 (Ping, code page 13),
// restated here so a wrong value in the implementation fails the tests.
constexpr std::uint8_t airsync_page = 0;
constexpr std::uint8_t sync = 0x05;
constexpr std::uint8_t sync_key = 0x0b;
constexpr std::uint8_t collection = 0x0f;
constexpr std::uint8_t collection_id = 0x12;
constexpr std::uint8_t collections = 0x1c;
constexpr std::uint8_t wait = 0x24;
constexpr std::uint8_t sync_heartbeat_interval = 0x29;
constexpr std::uint8_t ping_page = 13;
constexpr std::uint8_t ping = 0x05;
constexpr std::uint8_t ping_heartbeat_interval = 0x08;
constexpr std::uint8_t folders = 0x09;
constexpr std::uint8_t folder = 0x0a;
constexpr std::uint8_t folder_id = 0x0b;
constexpr std::uint8_t folder_class = 0x0c;

// Writes WBXML the way a device does: header (1.3, public id 1, UTF-8, no string table), then tokens.
class Wbxml {
public:
    Wbxml() : bytes_{0x03, 0x01, 0x6a, 0x00} {}
    static Wbxml with_header(std::initializer_list<std::uint8_t> header) {
        Wbxml wbxml;
        wbxml.bytes_.assign(header);
        return wbxml;
    }

    Wbxml& page(std::uint8_t code_page) { return raw({0x00, code_page}); }
    Wbxml& open(std::uint8_t tag) { return raw({static_cast<std::uint8_t>(tag | 0x40)}); }
    Wbxml& empty(std::uint8_t tag) { return raw({tag}); }
    Wbxml& end() { return raw({0x01}); }
    Wbxml& text(std::string_view text) {
        bytes_.push_back(0x03);
        bytes_.insert(bytes_.end(), text.begin(), text.end());
        bytes_.push_back(0x00);
        return *this;
    }
    Wbxml& opaque(std::string_view data) {
        bytes_.push_back(0xc3);
        Bytes length;
        std::uint32_t remaining = static_cast<std::uint32_t>(data.size());
        do {
            length.insert(length.begin(),
                          static_cast<std::uint8_t>((remaining & 0x7f) | (length.empty() ? 0 : 0x80)));
            remaining >>= 7;
        } while (remaining != 0);
        bytes_.insert(bytes_.end(), length.begin(), length.end());
        bytes_.insert(bytes_.end(), data.begin(), data.end());
        return *this;
    }
    // An element holding one inline string: <tag>value</tag>.
    Wbxml& element(std::uint8_t tag, std::string_view value) { return open(tag).text(value).end(); }
    Wbxml& raw(std::initializer_list<std::uint8_t> bytes) {
        bytes_.insert(bytes_.end(), bytes);
        return *this;
    }
    std::size_t size() const { return bytes_.size(); }
    const Bytes& bytes() const { return bytes_; }

private:
    Bytes bytes_;
};

std::optional<seconds> interval(std::string_view command, const Wbxml& body) {
    return long_poll_interval(command, body.bytes());
}

Wbxml ping_body(std::string_view heartbeat) {
    return std::move(Wbxml().page(ping_page).open(ping).element(ping_heartbeat_interval, heartbeat).end());
}

Wbxml sync_body(std::uint8_t interval_tag, std::string_view value) {
    Wbxml body;
    body.open(sync).open(collections).open(collection);
    body.element(sync_key, "1681523").element(collection_id, "5").end().end();
    body.element(interval_tag, value).end();
    return body;
}

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

// ---- Corpus: deterministic mutations of valid bodies --------------------------------------------

constexpr std::uint32_t corpus_seed = 20240611;
constexpr std::uint8_t fixed_masks[] = {0x01, 0x80, 0xff};

struct Seed {
    std::string command;
    Bytes body;
    std::size_t digits_offset;  // where the value's digits are
    std::size_t digits_length;
    std::int64_t seconds_per_unit;
};

// Builds a seed and finds its value's digits, which are its only STR_I holding `value`.
Seed make_seed(std::string command, const Wbxml& body, std::string_view value,
               std::int64_t seconds_per_unit) {
    const Bytes& bytes = body.bytes();
    Bytes needle = {0x03};
    needle.insert(needle.end(), value.begin(), value.end());
    needle.push_back(0x00);
    const auto found = std::search(bytes.begin(), bytes.end(), needle.begin(), needle.end());
    return {std::move(command), bytes, static_cast<std::size_t>(found - bytes.begin()) + 1, value.size(),
            seconds_per_unit};
}

std::vector<Seed> seeds() {
    Wbxml ping_with_folders = Wbxml().page(ping_page).open(ping).element(ping_heartbeat_interval, "470");
    ping_with_folders.open(folders).open(folder).element(folder_id, "5").element(folder_class, "Email").end();
    ping_with_folders.open(folder)
        .element(folder_id, "9")
        .element(folder_class, "Calendar")
        .end()
        .end()
        .end();
    return {make_seed("Ping", ping_body("90"), "90", 1), make_seed("Ping", ping_with_folders, "470", 1),
            make_seed("Sync", sync_body(wait, "15"), "15", 60),
            make_seed("Sync", sync_body(sync_heartbeat_interval, "900"), "900", 1)};
}

// What an accepted body must satisfy whatever was mutated.
::testing::AssertionResult consistent(const std::string& command, const Bytes& body,
                                      std::optional<seconds> result) {
    if (long_poll_interval(command, body) != result) {
        return ::testing::AssertionFailure() << "not deterministic";
    }
    if (!result) return ::testing::AssertionSuccess();
    if (*result < seconds(0) || *result > max_long_poll_interval) {
        return ::testing::AssertionFailure() << "out of range: " << result->count();
    }
    // The document ends exactly at its last byte: one byte less or more breaks it.
    if (long_poll_interval(command, std::span(body).first(body.size() - 1))) {
        return ::testing::AssertionFailure() << "accepted without its last byte";
    }
    Bytes longer = body;
    longer.push_back(0x01);
    if (long_poll_interval(command, longer)) {
        return ::testing::AssertionFailure() << "accepted a trailing byte";
    }
    return ::testing::AssertionSuccess();
}

// The value a mutated digit string must give: digits decode, anything else but NUL is refused.
std::optional<std::optional<seconds>> expected_for_digits(const Seed& seed, const Bytes& body) {
    std::int64_t units = 0;
    for (std::size_t index = 0; index < seed.digits_length; ++index) {
        const std::uint8_t byte = body[seed.digits_offset + index];
        if (byte == 0x00) return std::nullopt;  // ends the string early: outcome not predicted here
        if (byte < '0' || byte > '9') return std::optional<seconds>();
        units = units * 10 + (byte - '0');
    }
    return std::optional<seconds>(seconds(units * seed.seconds_per_unit));
}

TEST(LongPollIntervalCorpus, SeedsDecode) {
    const std::vector<Seed> all = seeds();
    EXPECT_EQ(long_poll_interval(all[0].command, all[0].body), seconds(90));
    EXPECT_EQ(long_poll_interval(all[1].command, all[1].body), seconds(470));
    EXPECT_EQ(long_poll_interval(all[2].command, all[2].body), seconds(900));
    EXPECT_EQ(long_poll_interval(all[3].command, all[3].body), seconds(900));
    for (const Seed& seed : all) EXPECT_GT(seed.digits_offset, 4u);
}

TEST(LongPollIntervalCorpus, EveryStrictPrefixIsRefused) {
    for (const Seed& seed : seeds()) {
        for (std::size_t length = 0; length < seed.body.size(); ++length) {
            EXPECT_EQ(long_poll_interval(seed.command, std::span(seed.body).first(length)), std::nullopt)
                << seed.command << " cut to " << length;
        }
    }
}

TEST(LongPollIntervalCorpus, SingleByteMutationsAreRefusedOrConsistent) {
    std::mt19937 random(corpus_seed);
    std::size_t accepted = 0;
    std::size_t refused = 0;
    std::size_t digit_checks = 0;
    for (const Seed& seed : seeds()) {
        for (std::size_t position = 0; position < seed.body.size(); ++position) {
            std::vector<std::uint8_t> masks(std::begin(fixed_masks), std::end(fixed_masks));
            for (int extra = 0; extra < 4; ++extra) {
                masks.push_back(
                    static_cast<std::uint8_t>(std::uniform_int_distribution<int>(1, 255)(random)));
            }
            for (const std::uint8_t mask : masks) {
                Bytes mutated = seed.body;
                mutated[position] ^= mask;
                const std::optional<seconds> result = long_poll_interval(seed.command, mutated);
                EXPECT_TRUE(consistent(seed.command, mutated, result))
                    << "byte " << position << " xor " << int{mask};
                const bool in_digits =
                    position >= seed.digits_offset && position < seed.digits_offset + seed.digits_length;
                if (in_digits) {
                    if (const auto expected = expected_for_digits(seed, mutated)) {
                        EXPECT_EQ(result, *expected) << "byte " << position << " xor " << int{mask};
                        ++digit_checks;
                    }
                }
                ++(result ? accepted : refused);
            }
        }
    }
    EXPECT_GT(accepted, 30u);
    EXPECT_GT(refused, 500u);
    EXPECT_GT(digit_checks, 40u);
}

TEST(LongPollIntervalCorpus, RandomBodiesAreRefusedOrConsistent) {
    std::mt19937 random(corpus_seed);
    std::uniform_int_distribution<int> byte(0, 255);
    std::uniform_int_distribution<std::size_t> size(0, 200);
    // Mostly tokens EAS uses, so that some bodies get deep into the decoder.
    const std::uint8_t likely[] = {0x00, 0x01, 0x03, 0x0d, 0x45, 0x48, 0x49,
                                   0x64, 0x69, 0x5c, '1',  '5',  0x00};
    std::uniform_int_distribution<std::size_t> likely_index(0, std::size(likely) - 1);
    std::size_t refused = 0;
    for (int round = 0; round < 5000; ++round) {
        Bytes body = {0x03, 0x01, 0x6a, 0x00};
        if (round % 2 == 0) body.clear();
        for (std::size_t index = size(random); index > 0; --index) {
            body.push_back(round % 3 == 0 ? static_cast<std::uint8_t>(byte(random))
                                          : likely[likely_index(random)]);
        }
        for (const char* command : {"Ping", "Sync"}) {
            const std::optional<seconds> result = long_poll_interval(command, body);
            EXPECT_TRUE(consistent(command, body, result));
            refused += result ? 0 : 1;
        }
    }
    EXPECT_GT(refused, 9000u);
}

}  // namespace
}  // namespace easgate::eas
