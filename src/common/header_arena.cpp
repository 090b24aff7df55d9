#include "easgate/common/header_arena.hpp"

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <new>
#include <utility>

#include "easgate/common/spare_blocks.hpp"

namespace easgate::common {
namespace {

using ArenaBlocks = SpareBlocks<HeaderArena::block_bytes, HeaderArena::most_spare_blocks>;

std::byte* align_up(std::byte* at, std::size_t alignment) {
    return reinterpret_cast<std::byte*>((reinterpret_cast<std::uintptr_t>(at) + alignment - 1) &
                                        ~(std::uintptr_t{alignment} - 1));
}

}  // namespace

HeaderArena::~HeaderArena() { release(); }

void HeaderArena::release() {
    while (blocks_) {
        Block* block = std::exchange(blocks_, blocks_->next);
        if (block->size == block_bytes) {
            ArenaBlocks::give(block);
        } else {
            std::free(block);
        }
    }
    next_ = end_ = nullptr;
    oversized_ = 0;
}

void drop_header(RequestHeader& header) {
    header.drop();
    if (auto* arena = dynamic_cast<HeaderArena*>(header.resource())) arena->release();
}

std::size_t HeaderArena::spare_blocks() { return ArenaBlocks::spare(); }

std::size_t HeaderArena::oversized_fields() const { return oversized_; }

void* HeaderArena::do_allocate(std::size_t bytes, std::size_t alignment) {
    if (auto* aligned = align_up(next_, alignment);
        next_ && aligned <= end_ && bytes <= static_cast<std::size_t>(end_ - aligned)) {
        next_ = aligned + bytes;
        return aligned;
    }
    // A new block: from the free list when a standard one does; a field larger than that (a big
    // Kerberos token) gets one of its own size, and the fields after it go on in the current block.
    if (bytes > (std::size_t{1} << 40)) throw std::bad_alloc();
    const std::size_t size = std::max(block_bytes, block_header + bytes + alignment);
    void* memory = size == block_bytes ? ArenaBlocks::take() : std::malloc(size);
    if (!memory) throw std::bad_alloc();
    blocks_ = ::new (memory) Block{blocks_, size};
    auto* aligned = align_up(static_cast<std::byte*>(memory) + block_header, alignment);
    if (size == block_bytes) {
        end_ = static_cast<std::byte*>(memory) + size;
        next_ = aligned + bytes;
    } else {
        ++oversized_;
    }
    return aligned;
}

// A field with a block of its own gives it back at once: a held Ping keeps no token it has sent.
// Only what did not fit a standard block has one (do_allocate), so nothing else looks for its block:
// a header of thousands of small fields and a large one would otherwise search per field.
void HeaderArena::do_deallocate(void* at, std::size_t bytes, std::size_t alignment) {
    if (oversized_ == 0 || block_header + bytes + alignment <= block_bytes) return;
    for (Block** link = &blocks_; *link; link = &(*link)->next) {
        Block* block = *link;
        if (block->size != block_bytes &&
            align_up(reinterpret_cast<std::byte*>(block) + block_header, alignment) == at) {
            *link = block->next;
            std::free(block);
            --oversized_;
            return;
        }
    }
}

}  // namespace easgate::common
