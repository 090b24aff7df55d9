// Exchange's answer as it comes in: its header read without Beast's composed operations (past
// interim answers, within the request's deadline, checked before it goes on), and the body of one
// the device never sees read and dropped.
#include <spdlog/spdlog.h>

#include <array>
#include <boost/beast/core/read_size.hpp>
#include <boost/beast/http.hpp>

#include "easgate/common/body_relay.hpp"
#include "easgate/common/use_nothrow.hpp"
#include "easgate/config/units.hpp"
#include "easgate/upstream/backend_diagnosis.hpp"
#include "easgate/upstream/upstream.hpp"
#include "easgate/upstream/upstream_exchange.hpp"

namespace easgate::upstream {

namespace asio = boost::asio;
namespace beast = boost::beast;
using common::Failure;
using easgate::common::use_nothrow;
using error_code = boost::system::error_code;

namespace {

// An interim answer Exchange sends before its final one (100, 102, 103), which easgate reads past;
// a 101 would switch protocols and is no interim answer here.
bool is_interim(unsigned status) { return status / 100 == 1 && status != 101; }

// Why Exchange's answer could not be read. Beast's parse errors name only a field ("bad
// version" for an answer that is not HTTP at all): the log says it was the header's fault.
std::string unreadable_answer(const error_code& ec) {
    const bool malformed = ec.category() == make_error_code(http::error::bad_version).category() &&
                           ec != http::error::end_of_stream && ec != http::error::partial_message;
    return malformed ? "malformed response header (" + ec.message() + ")" : ec.message();
}

// A final status easgate can't relay: 101 (the connection is no longer HTTP's; no upgrade was asked
// for), or a number outside HTTP's classes, which Beast reads (three digits) and a device would not.
std::string unrelayable_status(unsigned status) {
    if (status == 101)
        return "malformed response header (101 Switching Protocols, though no upgrade was asked for)";
    if (status < 100 || status > 599)
        return "malformed response header (status " + std::to_string(status) + ", outside HTTP's 100-599)";
    return "";
}

// A Transfer-Encoding other than one "chunked": Beast would then frame the body by Content-Length
// or read it undecoded (RFC 9112 6.3 has it read to the close), and the device, to which easgate
// frames the body itself, would get coded bytes it can't tell. IIS sends only chunked.
std::string unrelayable_coding(const common::ResponseHeader& response) {
    std::size_t codings = 0;
    std::string_view coding;
    for (const auto& field : response) {
        if (field.name() != http::field::transfer_encoding) continue;
        if (codings++ == 0) coding = field.value();
    }
    if (codings == 0 || (codings == 1 && beast::iequals(coding, "chunked"))) return "";
    return "malformed response header (Transfer-Encoding: " + std::string(coding) +
           (codings > 1 ? " and more" : "") + "; easgate relays only chunked)";
}

std::string no_valid_response(const std::string& url, const std::string& why) {
    return "upstream " + url + " sent no valid response (request not replayed): " + why;
}

constexpr std::size_t answer_read_bytes = common::buffer_memory::small_block;  // a TLS record's worth

}  // namespace

// Exchange broke the connection while it took the body: it may have answered first, as IIS refuses
// a body over its size limit (413) and closes on the rest. What came before the reset is still
// there to read, and is the device's answer: a 503 would have the phone send that mail again and
// again. nullopt once it is in `response`.
asio::awaitable<std::optional<ExchangeEnd>> UpstreamExchange::read_early_answer(
    DeviceRequest& request, const error_code& cut_off, std::optional<ResponseHead>& response) {
    connection_.tcp().expires_after(limits_.upstream_timeout);  // it came already, or never will
    error_code ec;
    do {  // past interim answers (a 100 Continue it sent before it refused the rest, say)
        auto& parser = response.emplace().parser;
        parser.header_limit(upstream_header_limit);
        parser.body_limit(boost::none);
        parser.skip(request.line.head);
        ec = co_await read_header(parser);
    } while (!ec && is_interim(response->parser.get().result_int()));
    const auto& header = response->parser.get();
    if (!ec && header.result_int() >= 200 && unrelayable_status(header.result_int()).empty() &&
        unrelayable_coding(header).empty()) {
        spdlog::debug("{}: upstream {} answered {} before it took the whole request body ({})", request.who,
                      connection_.target().url, header.result_int(), cut_off.message());
        co_return std::nullopt;
    }
    const std::string url = connection_.target().url;
    connection_.close();
    co_return fail(request, broke_off_receiving(url, cut_off));
}

// Waits for Exchange's response header (past interim 1xx answers). nullopt once it is in `response`.
asio::awaitable<std::optional<ExchangeEnd>> UpstreamExchange::read_response_header(
    DeviceRequest& request, DeviceWatch& watch, std::optional<ResponseHead>& response) {
    const auto& deadline = request.deadline;
    // One deadline for the final answer: interim 1xx answers don't extend it.
    const auto answer_due = std::chrono::steady_clock::now() + deadline.timeout;
    do {  // interim 1xx answers (other than 101) are Exchange's business, not the device's
        auto& parser = response.emplace().parser;
        parser.header_limit(upstream_header_limit);
        parser.body_limit(boost::none);
        parser.skip(request.line.head);
        // A sync answer mostly comes whole: room to read it at once (and relay it as one TLS
        // record). A held long poll waits with the buffer's small default.
        if (!deadline.long_poll) connection_.buffer().reserve(answer_read_bytes);
        connection_.tcp().expires_at(answer_due);
        // A shutdown that began while the request was on its way found nothing to cut short yet.
        if (deadline.long_poll && watch.draining()) {
            connection_.close();
            co_return ExchangeEnd::cut_short();
        }
        if (deadline.long_poll) watch.watch();
        error_code ec;  // not "?: co_await" in both branches: GCC 12 built that wrong here (requests hung)
        // Bytes already read (the answer after an interim one, read with it) are the answer's start.
        const bool wait_first = deadline.long_poll && connection_.buffer().size() == 0;
        if (wait_first && connection_.tls()) {
            ec = co_await wait_for_answer(parser);
        } else if (wait_first) {
            ec = co_await read_first_byte(parser);
        }
        if (!ec) ec = co_await read_header(parser);
        if (deadline.long_poll) co_await watch.stop_watching();
        if (!ec) continue;
        const std::string url = connection_.target().url;
        connection_.close();
        if (deadline.long_poll && watch.draining()) co_return ExchangeEnd::cut_short();
        if (watch.device_left()) {
            spdlog::debug("{} \"{} {}\": the device left; its long poll to {} is cancelled", request.who,
                          request.line.method, request.line.target, url);
            co_return ExchangeEnd::device_went_away();
        }
        co_return no_answer(request, url, ec);
    } while (is_interim(response->parser.get().result_int()));
    auto unrelayable = unrelayable_status(response->parser.get().result_int());
    if (unrelayable.empty()) unrelayable = unrelayable_coding(response->parser.get());
    if (!unrelayable.empty()) {
        const std::string url = connection_.target().url;
        connection_.close();
        auto failure = Failure::unavailable(no_valid_response(url, unrelayable));
        upstream_->record_failure(connection_.server(), failure.reason);
        co_return fail(request, std::move(failure));
    }
    co_return std::nullopt;
}

// Exchange had the whole request and sent no answer to relay (ec: why, from url): it is never
// replayed, the device retries later. It counts as a failure of the server (passive health).
ExchangeEnd UpstreamExchange::no_answer(const DeviceRequest& request, const std::string& url,
                                        const error_code& ec) {
    const auto& deadline = request.deadline;
    auto failure =
        ec == beast::error::timeout
            ? Failure::gateway_timeout("upstream " + url + " did not answer within " + deadline.origin +
                                       " (" + config::format_duration(deadline.timeout) + ")")
            : Failure::unavailable(no_valid_response(url, unreadable_answer(ec)));
    // Not a held long poll: IIS recycling its application pool ends every Ping it holds, and the
    // server answers again at once; counted, each recycle would rest it (and, alone, fail /readyz).
    if (!deadline.long_poll && tells_server_health(request.line.target))
        upstream_->record_failure(connection_.server(), failure.reason, request.user);
    return fail(request, std::move(failure));
}

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
