// Body and read buffers: the two block sizes a request's relay asks for every time come back from
// the thread's free list; other sizes come from malloc.
#include "easgate/common/body_bytes.hpp"

#include <gtest/gtest.h>

#include <boost/beast/core/flat_buffer.hpp>

namespace easgate::common {
namespace {

TEST(BufferMemory, RecyclesTheRelaysBlockSizesOnItsThread) {
    for (const std::size_t size : {buffer_memory::small_block, buffer_memory::large_block}) {
        void* first = buffer_memory::take(size);
        const std::size_t spare = buffer_memory::spare_blocks(size);
        buffer_memory::give(first, size);
        EXPECT_EQ(buffer_memory::spare_blocks(size), spare + 1) << size << " bytes: not kept";
        void* again = buffer_memory::take(size);
        EXPECT_EQ(again, first) << size << " bytes: not taken back from the free list";
        EXPECT_EQ(buffer_memory::spare_blocks(size), spare);
        buffer_memory::give(again, size);
    }
    void* other = buffer_memory::take(1000);  // any other size: malloc's
    buffer_memory::give(other, 1000);
    EXPECT_EQ(buffer_memory::spare_blocks(1000), 0u);
}

TEST(BufferMemory, PicksTheBlockThatHoldsABody) {
    EXPECT_EQ(buffer_memory::block_for(1), buffer_memory::small_block);
    EXPECT_EQ(buffer_memory::block_for(buffer_memory::small_block), buffer_memory::small_block);
    EXPECT_EQ(buffer_memory::block_for(buffer_memory::small_block + 1), buffer_memory::large_block);
    EXPECT_EQ(buffer_memory::block_for(buffer_memory::large_block), buffer_memory::large_block);
}

// An upstream connection's read buffer, reserved for an answer and shrunk after it, reuses one block.
TEST(BufferMemory, AFlatBufferReservedAndShrunkReusesItsBlock) {
    boost::beast::basic_flat_buffer<BufferAllocator<char>> buffer;
    buffer.reserve(buffer_memory::small_block);
    const void* first = buffer.data().data();
    const std::size_t spare = buffer_memory::spare_blocks(buffer_memory::small_block);
    buffer.shrink_to_fit();
    EXPECT_EQ(buffer_memory::spare_blocks(buffer_memory::small_block), spare + 1);
    buffer.reserve(buffer_memory::small_block);
    EXPECT_EQ(buffer.data().data(), first);
}

}  // namespace
}  // namespace easgate::common
