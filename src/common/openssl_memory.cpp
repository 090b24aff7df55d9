#include "easgate/common/openssl_memory.hpp"

#include <malloc.h>
#include <openssl/crypto.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include "easgate/common/spare_blocks.hpp"

namespace easgate::common::openssl_memory {
namespace {

using RecordBuffers = SpareBlocks<record_buffer_bytes, 8>;

// What malloc_usable_size says of a record buffer: a block freed with that size is one (or as
// large as one), whoever allocated it.
std::size_t usable_of_record_buffer() {
    static const std::size_t usable = [] {
        void* probe = std::malloc(record_buffer_bytes);
        const std::size_t size = malloc_usable_size(probe);
        std::free(probe);
        return size;
    }();
    return usable;
}

bool is_record_buffer_size(std::size_t bytes) { return bytes > 16 * 1024 && bytes <= record_buffer_bytes; }

bool is_record_buffer(void* memory) { return malloc_usable_size(memory) == usable_of_record_buffer(); }

bool hooks_installed = false;

}  // namespace

void* allocate(std::size_t bytes, const char*, int) {
    if (is_record_buffer_size(bytes)) return RecordBuffers::take();
    return std::malloc(bytes);
}

void* reallocate(void* memory, std::size_t bytes, const char* file, int line) {
    if (!memory) return allocate(bytes, file, line);
    if (bytes == 0) {
        release(memory, file, line);
        return nullptr;
    }
    const bool was_record = is_record_buffer(memory);
    if (!was_record && !is_record_buffer_size(bytes)) return std::realloc(memory, bytes);
    if (was_record && is_record_buffer_size(bytes)) return memory;
    void* moved = allocate(bytes, file, line);
    if (!moved) return nullptr;  // as realloc: the old block stays the caller's
    std::memcpy(moved, memory, std::min(bytes, malloc_usable_size(memory)));
    release(memory, file, line);
    return moved;
}

void release(void* memory, const char*, int) {
    if (!memory) return;
    if (is_record_buffer(memory)) return RecordBuffers::give(memory);
    std::free(memory);
}

bool install() {
    usable_of_record_buffer();  // measured with glibc's own malloc, before anything is routed here
    hooks_installed = CRYPTO_set_mem_functions(allocate, reallocate, release) == 1;
    return hooks_installed;
}

bool installed() { return hooks_installed; }

std::size_t spare_record_buffers() { return RecordBuffers::spare(); }

}  // namespace easgate::common::openssl_memory
