#include "easgate/common/header_arena.hpp"

#include <gtest/gtest.h>

#include <boost/beast/http/buffer_body.hpp>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "easgate/common/message_writer.hpp"
#include "easgate/upstream/header_rewrite.hpp"

namespace easgate::common {
namespace {

namespace http = boost::beast::http;

bool aligned(const void* at, std::size_t alignment) {
    return reinterpret_cast<std::uintptr_t>(at) % alignment == 0;
}

void take(HeaderArena& arena, std::size_t bytes) { EXPECT_NE(arena.allocate(bytes, 8), nullptr); }

TEST(HeaderArena, HandsOutAlignedRoomThatNoOtherAllocationShares) {
    HeaderArena arena;
    struct Taken {
        std::byte* at;
        std::size_t bytes;
    };
    std::vector<Taken> taken;
    // Past one block, in odd sizes and every alignment a field element can ask for.
    for (std::size_t i = 0; i < 200; ++i) {
        const std::size_t bytes = 1 + (i * 37) % 300, alignment = std::size_t{1} << (i % 5);
        auto* at = static_cast<std::byte*>(arena.allocate(bytes, alignment));
        ASSERT_TRUE(aligned(at, alignment)) << i;
        std::fill(at, at + bytes, std::byte(i));
        taken.push_back({at, bytes});
    }
    for (std::size_t i = 0; i < taken.size(); ++i) {
        for (std::size_t b = 0; b < taken[i].bytes; ++b)
            ASSERT_EQ(taken[i].at[b], std::byte(i)) << "allocation " << i << " was overwritten";
    }
}

TEST(HeaderArena, AFieldLargerThanABlockGetsRoomOfItsOwn) {
    HeaderArena arena;
    take(arena, 100);
    const std::size_t big = 3 * HeaderArena::block_bytes;
    auto* at = static_cast<char*>(arena.allocate(big, 16));
    ASSERT_TRUE(aligned(at, 16));
    std::fill(at, at + big, 'x');
    EXPECT_NE(arena.allocate(8, 8), nullptr);  // and the arena goes on after it
}

// Each on a thread of its own, whose free list starts empty.
void on_a_new_thread(const std::function<void()>& test) { std::thread(test).join(); }

TEST(HeaderArena, TheFieldsAfterALargeOneGoOnInTheCurrentBlock) {
    on_a_new_thread([] {
        {
            HeaderArena arena;
            take(arena, 100);
            take(arena, 3 * HeaderArena::block_bytes);  // a Kerberos token
            take(arena, 100);
        }
        EXPECT_EQ(HeaderArena::spare_blocks(), 1u);  // one standard block served both small ones
    });
}

// The token easgate puts on a request is erased once sent: a held Ping keeps no memory for it.
TEST(HeaderArena, AnErasedFieldTooBigForABlockGivesItsMemoryBack) {
    ParserInArena<RequestParser> request;
    auto& header = request.parser.get();
    header.insert(http::field::host, "mail.example.test");
    const std::string token = "Negotiate " + std::string(6000, 'Y');
    header.insert(http::field::authorization, token);
    header.insert(http::field::content_length, "0");
    EXPECT_EQ(request.arena.oversized_fields(), 1u);
    EXPECT_EQ(header[http::field::authorization], token);
    header.erase(http::field::authorization);
    EXPECT_EQ(request.arena.oversized_fields(), 0u);
    header.erase(http::field::content_length);         // a field in a standard block: kept until the end
    header.insert(http::field::authorization, token);  // a token again, on a retry
    EXPECT_EQ(request.arena.oversized_fields(), 1u);
    EXPECT_EQ(header[http::field::host], "mail.example.test");
    EXPECT_EQ(header[http::field::authorization], token);
}

TEST(HeaderArena, ItsBlocksGoBackToTheThreadAndServeTheNextMessage) {
    on_a_new_thread([] {
        EXPECT_EQ(HeaderArena::spare_blocks(), 0u);
        {
            HeaderArena arena;
            for (int i = 0; i < 2; ++i) take(arena, HeaderArena::block_bytes * 3 / 4);  // a block each
        }
        const std::size_t spare_after = HeaderArena::spare_blocks();
        EXPECT_EQ(spare_after, 2u);
        {
            HeaderArena next;
            take(next, 16);
            EXPECT_EQ(HeaderArena::spare_blocks(), spare_after - 1);  // taken from the thread, not malloc
        }
        {  // an oversized block is not kept: the thread keeps standard blocks only
            HeaderArena big;
            take(big, 4 * HeaderArena::block_bytes);
        }
        EXPECT_EQ(HeaderArena::spare_blocks(), spare_after);
    });
}

// A held Ping's header once it has been sent (UpstreamExchange::forward): its block goes back to the
// thread and its token to malloc, while the parser still knows the request was read whole.
TEST(HeaderArena, ADroppedHeaderGivesItsMemoryBackAndTheArenaServesAgain) {
    on_a_new_thread([] {
        ParserInArena<RequestParser> request;
        boost::system::error_code error;
        const std::string raw =
            "POST /Microsoft-Server-ActiveSync?Cmd=Ping&DeviceId=d&DeviceType=t HTTP/1.1\r\n"
            "Host: mail.example.test\r\nContent-Length: 2\r\n\r\nab";
        request.parser.put(boost::asio::buffer(raw), error);
        ASSERT_FALSE(error) << error.message();
        ASSERT_FALSE(request.parser.is_done()) << "the body is read on its own";
        auto& header = request.parser.get();
        header.insert(http::field::authorization, "Negotiate " + std::string(6000, 'Y'));
        const std::size_t spare_before = HeaderArena::spare_blocks();
        EXPECT_EQ(request.arena.oversized_fields(), 1u);

        drop_header(header);
        EXPECT_EQ(header.begin(), header.end());
        EXPECT_EQ(header.target(), "");
        EXPECT_EQ(request.arena.oversized_fields(), 0u);
        EXPECT_EQ(HeaderArena::spare_blocks(), spare_before + 1) << "the header's block went back";

        header.insert(http::field::host, "again.example.test");  // the arena serves again
        EXPECT_EQ(header[http::field::host], "again.example.test");
        EXPECT_EQ(HeaderArena::spare_blocks(), spare_before);
    });
}

TEST(HeaderArena, AThreadKeepsABoundedNumberOfSpareBlocks) {
    on_a_new_thread([] {
        std::vector<std::unique_ptr<HeaderArena>> arenas;
        for (std::size_t i = 0; i < 2 * HeaderArena::most_spare_blocks; ++i) {
            arenas.push_back(std::make_unique<HeaderArena>());
            take(*arenas.back(), 64);
        }
        arenas.clear();
        EXPECT_EQ(HeaderArena::spare_blocks(), HeaderArena::most_spare_blocks);
    });
}

// A request parsed into an arena, rewritten as Exchange gets it and written out, is byte for byte
// what the same request gives with its fields on the heap.
TEST(HeaderArena, ARequestInAnArenaIsRewrittenAndWrittenAsOneOnTheHeap) {
    std::string raw =
        "POST /Microsoft-Server-ActiveSync?Cmd=Sync&User=alice&DeviceId=d1&DeviceType=iPhone HTTP/1.1\r\n"
        "Host: mail.example.test\r\nConnection: keep-alive, X-Drop\r\nX-Drop: 1\r\n"
        "MS-ASProtocolVersion: 16.1\r\nContent-Type: application/vnd.ms-sync.wbxml\r\n"
        "User-Agent: Apple-iPhone/2101.1\r\nX-MS-PolicyKey: 1234\r\nExpect: 100-continue\r\n";
    for (int i = 0; i < 40; ++i) raw += "X-Field-" + std::to_string(i) + ": " + std::string(40, 'v') + "\r\n";
    raw += "Content-Length: 0\r\n\r\n";
    const auto written = [&](RequestParser& parser) {
        boost::beast::error_code ec;
        parser.put(boost::asio::buffer(raw), ec);
        EXPECT_FALSE(ec) << ec.message();
        upstream::rewrite_request_for_upstream(parser.get(), "192.0.2.7", true);
        return std::string(MessageWriter(parser.get()).head());
    };
    ParserInArena<RequestParser> in_arena;
    RequestParser on_heap;
    const std::string expected = written(on_heap);
    EXPECT_EQ(written(in_arena.parser), expected);
    EXPECT_NE(expected.find("X-Forwarded-For: 192.0.2.7\r\n"), std::string::npos);
    EXPECT_EQ(expected.find("X-Drop"), std::string::npos);
}

}  // namespace
}  // namespace easgate::common
