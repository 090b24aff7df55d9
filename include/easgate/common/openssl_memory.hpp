#pragma once

#include <cstddef>

namespace easgate::common::openssl_memory {

// OpenSSL frees a connection's record buffers whenever they are empty (SSL_MODE_RELEASE_BUFFERS,
// so that a held Ping keeps none) and makes them again for the next record: about five times a
// request, each a malloc and free of some 17 KiB that glibc serves from its bins at several hundred
// instructions a pair. Through OpenSSL's allocator hooks, blocks of that size come from a
// per-thread free list instead (SpareBlocks); every other allocation goes to malloc as before.

// OpenSSL's largest record buffer (16,384 bytes of payload, its overhead, header and alignment).
inline constexpr std::size_t record_buffer_bytes = 17 * 1024;

// Installs the hooks. It must run before OpenSSL allocates anything (main.cpp runs it as the
// program's first constructor); false when OpenSSL had already allocated, and nothing changes.
bool install();
bool installed();

// The hooks themselves (file and line are OpenSSL's, unused).
void* allocate(std::size_t bytes, const char* file, int line);
void* reallocate(void* memory, std::size_t bytes, const char* file, int line);
void release(void* memory, const char* file, int line);

// Record buffers kept on this thread's free list, for tests.
std::size_t spare_record_buffers();

}  // namespace easgate::common::openssl_memory
