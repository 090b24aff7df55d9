#include "easgate/common/heap_tuning.hpp"

#include <gtest/gtest.h>
#include <malloc.h>
#include <stdlib.h>

namespace easgate::common {
namespace {

#if defined(EASGATE_TEST_SANITIZED)
constexpr bool glibc_allocator = false;  // AddressSanitizer's allocator replaces glibc's
#else
constexpr bool glibc_allocator = true;
#endif

// Whether glibc gave the allocation a mapping of its own (mallinfo2's count of such chunks).
bool has_own_mapping(std::size_t bytes) {
    const std::size_t before = mallinfo2().hblks;
    void* allocation = std::malloc(bytes);
    asm volatile("" : : "g"(allocation) : "memory");  // the allocation must happen
    const bool mapped = mallinfo2().hblks > before;
    std::free(allocation);
    return mapped;
}

// Without the tuning, glibc gives an allocation this large a mapping of its own (from 128 KiB on,
// raised only by freeing such mappings, to at most 32 MiB), which the kernel takes back on free.
TEST(HeapTuning, AThirtyMiBReadAheadBufferComesFromTheHeap) {
    if (!glibc_allocator) GTEST_SKIP() << "not glibc's allocator";
    const HeapTuning tuning = tune_heap_for_uploads(30u << 20);
    ASSERT_TRUE(tuning.applied);
    EXPECT_EQ(tuning.mmap_threshold, 32u << 20);
    EXPECT_EQ(tuning.trim_threshold, 32u << 20);
    EXPECT_FALSE(has_own_mapping(30u << 20));
    EXPECT_TRUE(has_own_mapping(40u << 20)) << "above glibc's largest threshold, as before";
}

TEST(HeapTuning, TrimThresholdIsTwiceTheReadAheadWithinGlibcsBounds) {
    if (!glibc_allocator) GTEST_SKIP() << "not glibc's allocator";
    EXPECT_EQ(tune_heap_for_uploads(10u << 20).trim_threshold, 20u << 20);
    EXPECT_EQ(tune_heap_for_uploads(1u << 10).trim_threshold, 128u << 10);
    EXPECT_EQ(tune_heap_for_uploads(100u << 20).trim_threshold, 32u << 20);
}

TEST(HeapTuning, AnAdminsOwnMallocTunablesWin) {
    ASSERT_EQ(setenv("GLIBC_TUNABLES", "glibc.malloc.arena_max=2", 1), 0);
    const HeapTuning tuning = tune_heap_for_uploads(10u << 20);
    unsetenv("GLIBC_TUNABLES");
    EXPECT_FALSE(tuning.applied);
    EXPECT_EQ(tuning.trim_threshold, 0u);
}

}  // namespace
}  // namespace easgate::common
