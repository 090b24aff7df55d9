#pragma once

#include <boost/beast/http/message.hpp>
#include <cstddef>
#include <memory_resource>

#include "easgate/common/flat_fields.hpp"
#include "easgate/common/header_parser.hpp"

namespace easgate::common {

// The memory of one message header on its way through easgate (the device's request, Exchange's
// response): each field's text is an allocation of its own, about twenty per request, and when
// those went to malloc and free they were a tenth of a plain-forward request's CPU
// (docs/performance.md). Here a field costs a pointer bump; all of them go back at once when the
// arena is destroyed with its message. The blocks are kept on a small per-thread free list, so a
// request in steady state calls malloc for none. Freeing a single field returns nothing, so an
// arena belongs to one message: rewriting it costs at most what its fields took again. Only a
// field too big for a block (a Kerberos token) has memory of its own, and gives it back when it
// is erased.
class HeaderArena final : public std::pmr::memory_resource {
public:
    // Room for a typical ActiveSync request's fields: a held Ping keeps one block.
    static constexpr std::size_t block_bytes = 2048;
    // Spare blocks a thread keeps: enough for its requests between two turns of its event loop;
    // more go back to malloc.
    static constexpr std::size_t most_spare_blocks = 64;

    HeaderArena() = default;
    HeaderArena(const HeaderArena&) = delete;
    HeaderArena& operator=(const HeaderArena&) = delete;
    ~HeaderArena() override;

    // Gives every block back at once. Nothing allocated from the arena may be in use any more: for
    // a header whose fields are all erased (drop_header).
    void release();

    // Blocks kept on this thread's free list, for tests.
    static std::size_t spare_blocks();
    // Fields too big for a block, each in memory of its own, held now; for tests.
    std::size_t oversized_fields() const;

private:
    struct Block {
        Block* next;
        std::size_t size;  // of the whole allocation, header included
    };
    // Where a block's room starts: after its Block, at the strictest alignment.
    static constexpr std::size_t block_header =
        (sizeof(Block) + alignof(std::max_align_t) - 1) & ~(alignof(std::max_align_t) - 1);

    void* do_allocate(std::size_t bytes, std::size_t alignment) override;
    // Nothing for a field in a standard block: those go all at once, in the destructor.
    void do_deallocate(void* at, std::size_t bytes, std::size_t alignment) override;
    bool do_is_equal(const std::pmr::memory_resource& other) const noexcept override {
        return this == &other;
    }

    Block* blocks_ = nullptr;  // newest first
    std::byte* next_ = nullptr;
    std::byte* end_ = nullptr;
    std::size_t oversized_ = 0;  // blocks of their own among blocks_
};

// Header fields and parsers whose fields live in a HeaderArena (or, default-constructed, on the heap).
using Fields = FlatFields;
using RequestHeader = boost::beast::http::request_header<Fields>;
using ResponseHeader = boost::beast::http::response_header<Fields>;
using RequestParser = HeaderParser<true>;
using ResponseParser = HeaderParser<false>;

// Erases a request header, its request line included, and gives its arena's memory back, for a
// request that has been sent and will not be sent again: a held Ping keeps none of it. Its parser
// goes on knowing what it read (is_done and the framing).
void drop_header(RequestHeader& header);

// A parser whose header fields live in an arena of its own. The arena comes first, so it outlives
// the parser that holds the fields.
template <class Parser>
struct ParserInArena {
    HeaderArena arena;
    Parser parser{&arena};
};

}  // namespace easgate::common
