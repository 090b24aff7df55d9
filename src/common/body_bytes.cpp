#include "easgate/common/body_bytes.hpp"

#include <cstdlib>

#include "easgate/common/spare_blocks.hpp"

namespace easgate::common::buffer_memory {
namespace {

// Enough for the relays one thread has under way between two turns of its event loop.
using SmallBlocks = SpareBlocks<small_block, 16>;
using LargeBlocks = SpareBlocks<large_block, 8>;

}  // namespace

void* take(std::size_t bytes) {
    if (bytes == small_block) return SmallBlocks::take();
    if (bytes == large_block) return LargeBlocks::take();
    if (void* memory = std::malloc(bytes)) return memory;
    throw std::bad_alloc();
}

void give(void* memory, std::size_t bytes) noexcept {
    if (bytes == small_block) return SmallBlocks::give(memory);
    if (bytes == large_block) return LargeBlocks::give(memory);
    std::free(memory);
}

std::size_t spare_blocks(std::size_t bytes) {
    if (bytes == small_block) return SmallBlocks::spare();
    if (bytes == large_block) return LargeBlocks::spare();
    return 0;
}

std::size_t block_for(std::size_t bytes) { return bytes <= small_block ? small_block : large_block; }

}  // namespace easgate::common::buffer_memory
