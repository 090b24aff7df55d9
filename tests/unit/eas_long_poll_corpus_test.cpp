#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <optional>
#include <random>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "corpus_mutations.hpp"
#include "eas_wbxml_builder.hpp"
#include "easgate/eas/long_poll.hpp"

namespace easgate::eas {
namespace {

using std::chrono::seconds;
using test::Bytes;
using test::folder;
using test::folder_class;
using test::folder_id;
using test::folders;
using test::ping;
using test::ping_body;
using test::ping_heartbeat_interval;
using test::ping_page;
using test::sync_body;
using test::sync_heartbeat_interval;
using test::wait;
using test::Wbxml;

// ---- Corpus: deterministic mutations of valid bodies --------------------------------------------

using easgate::testing::corpus::masks_for_position;
namespace corpus = easgate::testing::corpus;

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
    std::mt19937 random(corpus::seed);
    std::size_t accepted = 0;
    std::size_t refused = 0;
    std::size_t digit_checks = 0;
    for (const Seed& seed : seeds()) {
        for (std::size_t position = 0; position < seed.body.size(); ++position) {
            for (const std::uint8_t mask : masks_for_position(random, 4)) {
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
    std::mt19937 random(corpus::seed);
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
