#pragma once

#include <cstddef>
#include <cstdlib>
#include <new>
#include <utility>

namespace easgate::common {

// A per-thread free list of memory blocks of one size, for memory a request takes and gives back
// every time (a header arena's block, an answer's read buffer, a relay's scratch): a pointer swap
// instead of malloc and free, which glibc serves for blocks over 1 KiB from its bins, at several
// hundred instructions a pair. At most MostSpare unused blocks are kept per thread; more go back.
template <std::size_t BlockBytes, std::size_t MostSpare>
class SpareBlocks {
public:
    static constexpr std::size_t block_bytes = BlockBytes;

    static void* take() {
        auto& spare = list();
        if (spare.head) {
            --spare.count;
            return std::exchange(spare.head, *static_cast<void**>(spare.head));
        }
        if (void* block = std::malloc(BlockBytes)) return block;
        throw std::bad_alloc();
    }

    static void give(void* block) noexcept {
        auto& spare = list();
        if (spare.count >= MostSpare) return std::free(block);
        *static_cast<void**>(block) = spare.head;  // each block's first word links to the next
        spare.head = block;
        ++spare.count;
    }

    // Blocks kept on this thread's list, for tests.
    static std::size_t spare() { return list().count; }

private:
    static_assert(BlockBytes >= sizeof(void*));

    struct List {
        void* head = nullptr;
        std::size_t count = 0;

        ~List() {
            while (head) std::free(std::exchange(head, *static_cast<void**>(head)));
            count = MostSpare;  // a block given back later on this thread, as it exits, is freed
        }
    };

    static List& list() {
        thread_local List spare;
        return spare;
    }
};

}  // namespace easgate::common
