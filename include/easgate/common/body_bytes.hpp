#pragma once

#include <memory>
#include <new>
#include <vector>

namespace easgate::common {

// An allocator whose resize() leaves new elements uninitialised: body buffers are written by the
// parser before anything reads them, so zero-filling them first is pure cost.
template <class T>
struct UninitialisedAllocator : std::allocator<T> {
    UninitialisedAllocator() = default;
    template <class U>
    explicit UninitialisedAllocator(const UninitialisedAllocator<U>&) noexcept {}

    template <class U>
    void construct(U* element) noexcept {
        ::new (static_cast<void*>(element)) U;
    }
};

// Bytes of a message body: read-ahead, relay scratch.
using BodyBytes = std::vector<char, UninitialisedAllocator<char>>;

}  // namespace easgate::common
