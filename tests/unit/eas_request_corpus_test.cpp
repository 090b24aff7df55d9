#include <gtest/gtest.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "corpus_mutations.hpp"
#include "eas_query_builders.hpp"
#include "easgate/eas/eas_request.hpp"

namespace easgate::eas {
namespace {

using test::active_sync;
using test::base64_target;
using test::Base64Query;
using test::Bytes;
using test::bytes_of;
using test::percent_encode;
using test::plain_target;
using test::post;
using test::to_base64;

// ---- Corpus: deterministic mutations of valid requests -----------------------------------------

using easgate::testing::corpus::masks_for_position;
namespace corpus = easgate::testing::corpus;

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
    std::mt19937 random(corpus::seed);
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
    std::mt19937 random(corpus::seed);
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
    std::mt19937 random(corpus::seed);
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
