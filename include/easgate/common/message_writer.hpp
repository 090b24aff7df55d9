#pragma once

#include <array>
#include <boost/asio/buffer.hpp>
#include <span>
#include <string>
#include <string_view>

#include "easgate/common/header_arena.hpp"

namespace easgate::common {

// The bytes relay_body sends for one HTTP/1.x message: its header, written out flat once, then its
// body as it comes, in chunks when the header says chunked. Beast's serializer offers the header as
// a sequence of one buffer per field, and walking that sequence on every write cost about a tenth
// of a plain-forward request's CPU (docs/performance.md).
class MessageWriter {
public:
    explicit MessageWriter(const RequestHeader& header);
    explicit MessageWriter(const ResponseHeader& header);

    // The buffers that send `body`, after the header if it has not gone yet; `last` ends the
    // message (a chunked body's last chunk). Valid until the next call.
    std::span<const boost::asio::const_buffer> next(std::span<const char> body, bool last);

    std::string_view head() const { return head_; }

private:
    explicit MessageWriter(bool chunked) : chunked_(chunked) {}

    // On the heap, not in the header's arena: a held long poll's arena keeps only its fields.
    std::string head_;
    bool chunked_;
    bool header_sent_ = false;
    std::array<char, 18> chunk_size_{};  // hex digits of a size_t, then CRLF
    std::array<boost::asio::const_buffer, 4> buffers_;
};

}  // namespace easgate::common
