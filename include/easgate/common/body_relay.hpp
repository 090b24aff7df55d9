#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/buffers_suffix.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/stream_traits.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <chrono>
#include <concepts>
#include <cstdint>
#include <span>
#include <utility>

#include "easgate/common/body_rate.hpp"
#include "easgate/common/header_arena.hpp"
#include "easgate/common/message_writer.hpp"
#include "easgate/common/use_nothrow.hpp"

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

// A stream that can write without an asynchronous operation when nothing needs a wait (TlsStream).
template <class Stream>
concept WritesNow = requires(Stream& stream, std::span<const boost::asio::const_buffer> buffers,
                             boost::system::error_code& error) {
    { stream.write_now(buffers, error) } -> std::same_as<std::size_t>;
    { stream.flushed() } -> std::same_as<bool>;
};

// What http::async_read_some does with bytes already in `buffer`, done here: where they are enough
// to go on (need_more is the one outcome that needs a read), Beast's operation would post its
// completion, a trip through the scheduler for nothing. Returns whether they were.
template <class FlatBuffer, bool isRequest>
bool parse_buffered(FlatBuffer& buffer, http::basic_parser<isRequest>& parser,
                    boost::system::error_code& error, std::size_t& used) {
    if (buffer.size() == 0) return false;
    used = parser.put(buffer.data(), error);
    buffer.consume(used);
    return error != http::error::need_more;
}

// A read's error while a header is read, as http::async_read_header reports it: the end of the
// stream is end_of_stream before any of the header, partial_message within it.
template <bool isRequest>
boost::system::error_code header_read_error(const boost::system::error_code& error,
                                            http::basic_parser<isRequest>& parser) {
    if (error != boost::asio::error::eof) return error;
    if (!parser.got_some()) return http::error::end_of_stream;
    boost::system::error_code cut_short;
    parser.put_eof(cut_short);
    return cut_short;
}

// Streams a message whose header has been read by parser (from input) through writer (to output):
// first the bytes in `first` (already read, e.g. the read-ahead), then the rest of the body as it arrives,
// `scratch` at a time. Never holds more than one scratch buffer of the body, so a large upload or download
// costs the same memory as a small one.
template <class Input, class InputBuffer, class Output, bool isRequest>
boost::asio::awaitable<RelayResult> relay_body(Input& input, InputBuffer& input_buffer,
                                               HeaderParser<isRequest>& parser, Output& output,
                                               MessageWriter& writer, std::span<char> first,
                                               std::span<char> scratch, RelayTimeouts timeouts) {
    using easgate::common::use_nothrow;
    auto& body = parser.get().body();
    std::span<char> ready = first;
    std::size_t total_written = 0;
    std::uint64_t body_bytes = 0;
    // The input was not read meanwhile (easgate connected, or the output took its time): its rate
    // starts afresh then, and the wait is not the device's.
    bool input_paused = true;
    for (;;) {
        body_bytes += ready.size();
        const bool last = parser.is_done();
        // The header waits for the body's first bytes (or its end): one write, one TLS record.
        if (!ready.empty() || last) {
            const auto message = writer.next(ready, last);
            boost::system::error_code ec;
            std::size_t written = 0;
            bool whole = false;
            if constexpr (WritesNow<Output>) {
                written = output.write_now(message, ec);
                whole = written == boost::beast::buffer_bytes(message) && output.flushed();
            }
            if (!ec && !whole) {  // the rest waits for the socket, under the write timeout
                boost::beast::buffers_suffix rest(message);
                rest.consume(written);
                boost::beast::get_lowest_layer(output).expires_after(timeouts.write);
                auto [waited_error, waited_written] =
                    co_await boost::asio::async_write(output, rest, use_nothrow);
                ec = waited_error;
                written += waited_written;
                input_paused = true;
            }
            total_written += written;
            if (ec) co_return RelayResult{RelaySide::output, ec, total_written, body_bytes};
            if (last) co_return RelayResult{RelaySide::none, {}, total_written, body_bytes};
        }
        body.data = scratch.data();
        body.size = scratch.size();
        boost::system::error_code ec;
        std::size_t read = 0;
        if (!parse_buffered(input_buffer, parser, ec, read)) {
            if (timeouts.input_rate) {
                if (std::exchange(input_paused, false)) timeouts.input_rate->resume();
                boost::beast::get_lowest_layer(input).expires_at(timeouts.input_rate->read_deadline());
            } else {
                boost::beast::get_lowest_layer(input).expires_after(timeouts.read);
            }
            auto [waited_error, waited_read] =
                co_await http::async_read_some(input, input_buffer, parser, use_nothrow);
            ec = waited_error;
            read += waited_read;
        }
        if (timeouts.input_rate) timeouts.input_rate->received(read);
        if (ec && ec != http::error::need_buffer)
            co_return RelayResult{RelaySide::input, ec, total_written, body_bytes};
        ready = scratch.first(scratch.size() - body.size);
    }
}

}  // namespace easgate::common
