#pragma once

#include <cstddef>
#include <cstdint>

namespace easgate::common {

// What tune_heap_for_uploads did to glibc's allocator.
struct HeapTuning {
    bool applied = false;            // false: GLIBC_TUNABLES sets malloc options, or glibc refused
    std::size_t mmap_threshold = 0;  // allocations from this size on get their own mapping
    std::size_t trim_threshold = 0;  // free memory an arena keeps at its top before returning it
};

// A read-ahead buffer (up to limits.upload_read_ahead, 10 MiB by default) is one allocation per
// upload. By default glibc hands it back to the kernel when it is freed, so the next upload
// page-faults through fresh, zeroed memory: a third of easgate's CPU for a 10 MiB SendMail. This
// keeps buffers up to 32 MiB in the heap and lets each arena keep twice the read-ahead free, so
// uploads reuse the same pages. Before any thread starts; an admin's own glibc.malloc tunables win.
HeapTuning tune_heap_for_uploads(std::uint64_t upload_read_ahead);

}  // namespace easgate::common
