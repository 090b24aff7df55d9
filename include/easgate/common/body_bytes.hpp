#pragma once

#include <cstddef>
#include <new>
#include <utility>
#include <vector>

namespace easgate::common {

// Where body and read buffers get their memory: blocks of the sizes a request's relay asks for
// every time (an answer's read buffer, a relay's scratch) from a per-thread free list, the others
// from malloc. Values are left uninitialised by resize(): the parser writes them before anything
// reads them, so zero-filling them first is pure cost.
namespace buffer_memory {
inline constexpr std::size_t small_block = 16 * 1024;  // a TLS record's worth
inline constexpr std::size_t large_block = 64 * 1024;  // a relay's chunk
void* take(std::size_t bytes);
void give(void* memory, std::size_t bytes) noexcept;
// The block size that holds `bytes` (at most large_block), for buffers that may be a bit larger
// than asked so that they are recycled.
std::size_t block_for(std::size_t bytes);
// Blocks of `bytes` kept on this thread's free list, for tests.
std::size_t spare_blocks(std::size_t bytes);
}  // namespace buffer_memory

template <class T>
struct BufferAllocator {
    using value_type = T;

    BufferAllocator() = default;
    template <class U>
    BufferAllocator(const BufferAllocator<U>&) noexcept {}

    T* allocate(std::size_t n) { return static_cast<T*>(buffer_memory::take(n * sizeof(T))); }
    void deallocate(T* memory, std::size_t n) noexcept { buffer_memory::give(memory, n * sizeof(T)); }
    template <class U>
    void construct(U* element) noexcept {
        ::new (static_cast<void*>(element)) U;
    }
    template <class U, class... Args>
    void construct(U* element, Args&&... args) {
        ::new (static_cast<void*>(element)) U(std::forward<Args>(args)...);
    }

    template <class U>
    bool operator==(const BufferAllocator<U>&) const noexcept {
        return true;
    }
};

// Bytes of a message body: read-ahead, relay scratch.
using BodyBytes = std::vector<char, BufferAllocator<char>>;

}  // namespace easgate::common
