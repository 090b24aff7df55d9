#pragma once

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/stream_traits.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <chrono>
#include <cstdint>
#include <span>

#include "easgate/common/body_rate.hpp"
#include "easgate/common/header_arena.hpp"
#include "easgate/common/message_writer.hpp"

namespace easgate::common {

namespace http = boost::beast::http;

enum class RelaySide { none, input, output };

// Which side of a relay failed, and how.
struct RelayResult {
    RelaySide failed = RelaySide::none;
    boost::system::error_code error;
    std::size_t written = 0;       // bytes the output accepted: 0 means the peer got nothing of the message
    std::uint64_t body_bytes = 0;  // of the body, handed to the output (all of it when ok())

    bool ok() const { return failed == RelaySide::none; }
};

struct RelayTimeouts {
    std::chrono::milliseconds read;       // between two reads from the input
    std::chrono::milliseconds write;      // for one write to the output
    BodyRateGuard* input_rate = nullptr;  // when set, it decides how long each read may take
};

// Streams a message whose header has been read by parser (from input) through writer (to output):
// first the bytes in `first` (already read, e.g. the read-ahead), then the rest of the body as it arrives,
// `scratch` at a time. Never holds more than one scratch buffer of the body, so a large upload or download
// costs the same memory as a small one.
template <class Input, class Output, bool isRequest>
boost::asio::awaitable<RelayResult> relay_body(
    Input& input, boost::beast::flat_buffer& input_buffer,
    http::parser<isRequest, http::buffer_body, FieldAllocator>& parser, Output& output, MessageWriter& writer,
    std::span<char> first, std::span<char> scratch, RelayTimeouts timeouts) {
    constexpr auto use_nothrow = boost::asio::as_tuple(boost::asio::use_awaitable);
    auto& body = parser.get().body();
    std::span<char> ready = first;
    std::size_t total_written = 0;
    std::uint64_t body_bytes = 0;
    for (;;) {
        body_bytes += ready.size();
        const bool last = parser.is_done();
        // The header waits for the body's first bytes (or its end): one write, one TLS record.
        if (!ready.empty() || last) {
            boost::beast::get_lowest_layer(output).expires_after(timeouts.write);
            auto [ec, written] =
                co_await boost::asio::async_write(output, writer.next(ready, last), use_nothrow);
            total_written += written;
            if (ec) co_return RelayResult{RelaySide::output, ec, total_written, body_bytes};
            if (last) co_return RelayResult{RelaySide::none, {}, total_written, body_bytes};
        }
        body.data = scratch.data();
        body.size = scratch.size();
        if (timeouts.input_rate) {
            boost::beast::get_lowest_layer(input).expires_at(timeouts.input_rate->read_deadline());
        } else {
            boost::beast::get_lowest_layer(input).expires_after(timeouts.read);
        }
        auto [ec, read] = co_await http::async_read_some(input, input_buffer, parser, use_nothrow);
        if (timeouts.input_rate) timeouts.input_rate->received(read);
        if (ec && ec != http::error::need_buffer)
            co_return RelayResult{RelaySide::input, ec, total_written, body_bytes};
        ready = scratch.first(scratch.size() - body.size);
    }
}

}  // namespace easgate::common
