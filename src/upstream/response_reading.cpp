// Exchange's answer as it comes in: its header read without Beast's composed operations, and the
// body of one the device never sees read and dropped.
#include <array>
#include <boost/beast/core/read_size.hpp>
#include <boost/beast/http.hpp>

#include "easgate/common/body_relay.hpp"
#include "easgate/common/use_nothrow.hpp"
#include "easgate/upstream/upstream_exchange.hpp"

namespace easgate::upstream {

namespace asio = boost::asio;
namespace beast = boost::beast;
using easgate::common::use_nothrow;
using error_code = boost::system::error_code;

// A held long poll waits for Exchange's answer before it makes a read buffer: over TLS, the
// stream's own small wait read takes the first bytes. Its errors read as read_header's would.
asio::awaitable<error_code> UpstreamExchange::wait_for_answer(common::ResponseParser& parser) {
    auto [ec] = co_await connection_.tls()->async_wait_input(use_nothrow);
    co_return ec ? common::header_read_error(ec, parser) : error_code{};
}

// Over plain http: the answer's first byte, read into the frame and put in the buffer, which is
// made only then.
asio::awaitable<error_code> UpstreamExchange::read_first_byte(common::ResponseParser& parser) {
    char first = 0;
    auto [ec, read] = co_await connection_.tcp().async_read_some(asio::buffer(&first, 1), use_nothrow);
    auto& buffer = connection_.buffer();
    buffer.commit(asio::buffer_copy(buffer.prepare(read), asio::buffer(&first, read)));
    co_return ec ? common::header_read_error(ec, parser) : error_code{};
}

// http::async_read_header, without its two composed operations per read.
asio::awaitable<error_code> UpstreamExchange::read_header(common::ResponseParser& parser) {
    auto& buffer = connection_.buffer();
    error_code ec;
    for (std::size_t used = 0; !common::parse_buffered(buffer, parser, ec, used);) {  // whole, or refused
        const std::size_t room = beast::read_size(buffer, relay_chunk_bytes);
        if (room == 0) co_return http::error::buffer_overflow;
        const auto into = buffer.prepare(room);
        auto [read_error, read] = co_await connection_.visit(
            [&](auto& upstream) { return upstream.async_read_some(into, use_nothrow); });
        buffer.commit(read);
        if (read_error) co_return common::header_read_error(read_error, parser);
    }
    co_return ec;
}

// Reads and drops the body of a response the device never sees (a 401 challenge). A large or
// broken one costs the connection instead: the next attempt connects afresh.
asio::awaitable<void> UpstreamExchange::discard_response_body(common::ResponseParser& parser) {
    constexpr std::size_t max_discarded = 64 * 1024;
    std::array<char, 4096> sink;
    std::size_t discarded = 0;
    while (!parser.is_done() && discarded <= max_discarded) {
        parser.get().body().data = sink.data();
        parser.get().body().size = sink.size();
        connection_.tcp().expires_after(limits_.upstream_timeout);
        auto [ec, read] = co_await connection_.visit([&](auto& upstream) {
            return http::async_read_some(upstream, connection_.buffer(), parser, use_nothrow);
        });
        if (ec && ec != http::error::need_buffer) break;
        discarded += sink.size() - parser.get().body().size;
    }
    if (!parser.is_done() || !parser.keep_alive()) connection_.close();
}

}  // namespace easgate::upstream
