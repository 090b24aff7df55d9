// OpenSSL's allocator hooks: record buffers (16.7 and 17 KiB, TLS's read and write buffers) come
// back from the thread's free list; every other size, and every content, is malloc's and realloc's.
#include "easgate/common/openssl_memory.hpp"

#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

namespace easgate::common::openssl_memory {
namespace {

constexpr std::size_t read_buffer = 16712, write_buffer = 17040;  // OpenSSL 3.0's, TLS

// Empties the thread's free list for a test's length: earlier tests' TLS connections on this thread
// may have filled it to its bound, and a full list gives what comes back to free().
class EmptyFreeList {
public:
    EmptyFreeList() {
        while (spare_record_buffers() > 0) taken_.push_back(allocate(read_buffer, __FILE__, __LINE__));
    }
    ~EmptyFreeList() {
        for (void* buffer : taken_) release(buffer, __FILE__, __LINE__);
    }

private:
    std::vector<void*> taken_;
};

TEST(OpenSslMemory, RecordBuffersComeBackFromTheThreadsFreeList) {
    const EmptyFreeList empty;
    void* first = allocate(read_buffer, __FILE__, __LINE__);
    const std::size_t spare = spare_record_buffers();
    release(first, __FILE__, __LINE__);
    EXPECT_EQ(spare_record_buffers(), spare + 1) << "a record buffer went back to malloc";
    void* again = allocate(write_buffer, __FILE__, __LINE__);
    EXPECT_EQ(again, first) << "a record buffer was not taken from the free list";
    EXPECT_EQ(spare_record_buffers(), spare);
    release(again, __FILE__, __LINE__);
}

TEST(OpenSslMemory, OtherSizesAreMallocs) {
    const std::size_t spare = spare_record_buffers();
    for (const std::size_t size :
         {std::size_t{1}, std::size_t{16 * 1024}, std::size_t{20000}, std::size_t{65536}}) {
        void* memory = allocate(size, __FILE__, __LINE__);
        ASSERT_NE(memory, nullptr);
        std::memset(memory, 0x5a, size);
        release(memory, __FILE__, __LINE__);
        EXPECT_EQ(spare_record_buffers(), spare) << size << " bytes were kept as a record buffer";
    }
    release(nullptr, __FILE__, __LINE__);
}

TEST(OpenSslMemory, ReallocationKeepsTheBytesAcrossBothKinds) {
    const EmptyFreeList empty;
    const std::string bytes = "what OpenSSL had written";
    auto* memory = static_cast<char*>(allocate(100, __FILE__, __LINE__));
    std::memcpy(memory, bytes.data(), bytes.size());
    memory = static_cast<char*>(reallocate(memory, read_buffer, __FILE__, __LINE__));  // into a record buffer
    EXPECT_EQ(std::string(memory, bytes.size()), bytes);
    auto* same = static_cast<char*>(reallocate(memory, write_buffer, __FILE__, __LINE__));
    EXPECT_EQ(same, memory) << "a record buffer already holds a write buffer's size";
    const std::size_t spare = spare_record_buffers();
    memory = static_cast<char*>(reallocate(same, 40000, __FILE__, __LINE__));  // out of one
    EXPECT_EQ(std::string(memory, bytes.size()), bytes);
    EXPECT_EQ(spare_record_buffers(), spare + 1) << "the record buffer left behind was not kept";
    memory = static_cast<char*>(reallocate(memory, 50, __FILE__, __LINE__));
    EXPECT_EQ(std::string(memory, bytes.size()), bytes);
    EXPECT_EQ(reallocate(memory, 0, __FILE__, __LINE__), nullptr);  // released
    void* fresh = reallocate(nullptr, read_buffer, __FILE__, __LINE__);
    EXPECT_NE(fresh, nullptr);
    release(fresh, __FILE__, __LINE__);
}

}  // namespace
}  // namespace easgate::common::openssl_memory
