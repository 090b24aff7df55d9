#include "easgate/common/heap_tuning.hpp"

#include <malloc.h>

#include <algorithm>
#include <cstdlib>
#include <string_view>

namespace easgate::common {
namespace {

constexpr std::size_t largest_heap_allocation = 32u << 20;  // glibc's limit for M_MMAP_THRESHOLD
constexpr std::size_t glibc_default_trim = 128u << 10;

}  // namespace

HeapTuning tune_heap_for_uploads(std::uint64_t upload_read_ahead) {
    HeapTuning tuning;
    if (const char* tunables = std::getenv("GLIBC_TUNABLES");
        tunables && std::string_view(tunables).find("glibc.malloc.") != std::string_view::npos)
        return tuning;
    const std::uint64_t twice = std::min<std::uint64_t>(upload_read_ahead, largest_heap_allocation) * 2;
    tuning.mmap_threshold = largest_heap_allocation;
    tuning.trim_threshold = static_cast<std::size_t>(
        std::clamp<std::uint64_t>(twice, glibc_default_trim, largest_heap_allocation));
    tuning.applied = mallopt(M_MMAP_THRESHOLD, static_cast<int>(tuning.mmap_threshold)) == 1 &&
                     mallopt(M_TRIM_THRESHOLD, static_cast<int>(tuning.trim_threshold)) == 1;
    return tuning;
}

}  // namespace easgate::common
