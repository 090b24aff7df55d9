// easgate-test-upstream: a stand-in for Exchange in end-to-end tests. It reports what reached it
// (method, target, headers, body length and SHA-256, which connection carried it) as JSON, and can
// send large, chunked, slow or failing responses on request. Thread per connection: simple, and
// independent of the code under test.
#include <openssl/evp.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <charconv>
#include <fstream>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string_view>
#include <thread>
#include <utility>

#include "easgate/common/text.hpp"
#include "test_upstream_health.hpp"

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using test_upstream::answer_as_stopped_app_pool;
using test_upstream::answer_health_check;
using test_upstream::is_health_check;
using test_upstream::server_health;

namespace {

std::atomic<unsigned> next_connection_id{1};

std::string sha256_hex(const std::string& data) {
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int length = 0;
    EVP_Digest(data.data(), data.size(), digest, &length, EVP_sha256(), nullptr);
    return easgate::common::hex_encode({digest, length});
}

// The query parameter name=value as a number, or fallback.
std::uint64_t query_number(std::string_view target, std::string_view name, std::uint64_t fallback) {
    const auto key = std::string(name) + "=";
    const auto at = target.find(key);
    if (at == std::string_view::npos) return fallback;
    std::uint64_t value = fallback;
    const char* begin = target.data() + at + key.size();
    std::from_chars(begin, target.data() + target.size(), value);
    return value;
}

// Byte i of a download body; the tests compute the same pattern to compare.
char pattern_byte(std::uint64_t i) { return static_cast<char>((i * 31 + 7) & 0xff); }

template <class Stream>
void send_download(Stream& stream, const http::request<http::string_body>& request) {
    const auto total = query_number(request.target(), "bytes", 0);
    http::response<http::buffer_body> response{http::status::ok, request.version()};
    response.set(http::field::content_type, "application/octet-stream");
    if (query_number(request.target(), "chunked", 0)) {
        response.chunked(true);
    } else {
        response.content_length(total);
    }
    response.keep_alive(request.keep_alive());
    http::response_serializer<http::buffer_body> serializer{response};
    std::vector<char> chunk(61 * 1024);  // odd size, so chunk edges don't line up with anything
    std::uint64_t sent = 0;
    do {
        const auto n = std::min<std::uint64_t>(chunk.size(), total - sent);
        for (std::uint64_t i = 0; i < n; ++i) chunk[i] = pattern_byte(sent + i);
        response.body().data = n ? chunk.data() : nullptr;
        response.body().size = n;
        response.body().more = sent + n < total;
        sent += n;
        beast::error_code ec;
        http::write(stream, serializer, ec);
        if (ec && ec != http::error::need_buffer) return;
    } while (!serializer.is_done());
}

// Answers whose framing no HTTP parser may accept, each sent instead of the real one when its knob
// is set: a request smuggler's favourites, and a port that is not HTTP at all.
constexpr std::pair<std::string_view, std::string_view> broken_answers[] = {
    {"lengthandchunked",
     "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"},
    {"twolengths", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!"},
    // Codings easgate can't relay: Beast would frame the first by Content-Length, the second not decode.
    {"gziplength", "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\nContent-Length: 3\r\n\r\nabcdef"},
    {"chunkedgzip", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n5\r\nhello\r\n0\r\n\r\n"},
    {"garbage", "220 exchange.example.test Microsoft ESMTP MAIL Service ready\r\n\r\n"},
    {"switchingprotocols",
     "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"},
    {"status600", "HTTP/1.1 600 Beyond\r\nContent-Length: 2\r\n\r\nno"},
    {"status099", "HTTP/1.1 099 Below\r\nContent-Length: 2\r\n\r\nno"},
};

// Valid answers written whole in one write instead of the report, each when its knob is set.
constexpr std::pair<std::string_view, std::string_view> raw_answers[] = {
    // An interim answer and a final one of a Ping's size, which easgate then reads at once.
    {"interimjoined", "HTTP/1.1 102 Processing\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 7\r\n\r\njoined\n"},
    // No body, whatever the framing fields say (RFC 9112 6.1 allows chunked on a 304 to a GET).
    {"notmodifiedchunked", "HTTP/1.1 304 Not Modified\r\nTransfer-Encoding: chunked\r\n\r\n"},
    {"nocontentchunked", "HTTP/1.1 204 No Content\r\nTransfer-Encoding: chunked\r\n\r\n"},
    {"nocontentlength", "HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n"},
    // For HEAD: HTTP.sys's 400 without the body a GET would get.
    {"badrequesthead", "HTTP/1.1 400 Bad Request\r\nContent-Type: text/html\r\nContent-Length: 334\r\n\r\n"},
};

// The answer of the table whose knob the target sets, or nullptr.
template <std::size_t N>
const std::pair<std::string_view, std::string_view>* answer_of(
    const std::pair<std::string_view, std::string_view> (&answers)[N], std::string_view target) {
    const auto found = std::find_if(std::begin(answers), std::end(answers), [&](const auto& answer) {
        return query_number(target, answer.first, 0);
    });
    return found == std::end(answers) ? nullptr : found;
}

// rst=1: the connection ends with a TCP reset (a crashed worker process, a load balancer giving
// up) instead of an orderly close.
template <class Stream>
void end_connection(Stream& stream, std::string_view target) {
    if (!query_number(target, "rst", 0)) return;
    auto& socket = beast::get_lowest_layer(stream);
    beast::error_code ec;
    socket.set_option(tcp::socket::linger(true, 0), ec);
    socket.close(ec);
}

// interim=N: N "102 Processing" answers, interimms apart, before the final one; false when the
// connection broke.
template <class Stream>
bool send_interim_answers(Stream& stream, std::string_view target) {
    for (auto n = query_number(target, "interim", 0); n > 0; --n) {
        std::this_thread::sleep_for(std::chrono::milliseconds(query_number(target, "interimms", 100)));
        beast::error_code ec;
        asio::write(stream, asio::buffer(std::string_view("HTTP/1.1 102 Processing\r\n\r\n")), ec);
        if (ec) return false;
    }
    return true;
}

const std::pair<std::string_view, std::string_view>* broken_answer(std::string_view target) {
    return answer_of(broken_answers, target);
}

const std::pair<std::string_view, std::string_view>* raw_answer(std::string_view target) {
    return answer_of(raw_answers, target);
}

// The usual answer: a JSON report of what arrived, with the status and headers the knobs ask for.
http::response<http::string_body> report_answer(const http::request<http::string_body>& request,
                                                unsigned connection_id, unsigned index) {
    const std::string_view target = request.target();
    nlohmann::json headers = nlohmann::json::object();
    for (const auto& field : request) headers[std::string(field.name_string())] = std::string(field.value());
    const nlohmann::json report = {
        {"method", std::string(request.method_string())},
        {"target", std::string(target)},
        {"headers", headers},
        {"body_length", request.body().size()},
        {"body_sha256", sha256_hex(request.body())},
        {"connection", connection_id},
        {"request_on_connection", index},
    };
    const auto status = static_cast<unsigned>(query_number(target, "status", 200));
    http::response<http::string_body> response{static_cast<http::status>(status), request.version()};
    response.set(http::field::content_type, "application/json");
    response.set("X-Test-Upstream", "yes");
    if (status == 503) response.set(http::field::retry_after, "120");  // Exchange throttling a device
    if (query_number(target, "authartefacts", 0)) {  // what IIS adds after Kerberos succeeded
        response.set(http::field::www_authenticate, "Negotiate oYG3MIG0oAMKAQChCwYJKoZIgvcSAQICooGfBIGc");
        response.set("Persistent-Auth", "true");
        response.set(http::field::set_cookie, "X-BackEndCookie=S-1-5-21=u56Lnp2ejJqBz; path=/");
    }
    if (query_number(target, "topology", 0)) {  // what Exchange 2016/2019 tells of its servers
        response.set("X-FEServer", "EXCH01");
        response.set("X-BEServer", "EXCH02");
        response.set("X-CalculatedBETarget", "exch02.corp.example.com");
        response.set("X-DiagInfo", "EXCH02");
        response.set("X-Powered-By", "ASP.NET");
        response.set("X-AspNet-Version", "4.0.30319");
        response.set(http::field::server, "Microsoft-IIS/10.0");
        response.set("MS-Server-ActiveSync", "15.20");
    }

    // Exchange's "mailbox moved to another site": 451 naming the server to use from now on.
    if (const auto port = query_number(target, "moved", 0)) {
        response.result(451);
        response.set("X-MS-Location",
                     "https://localhost:" + std::to_string(port) + "/Microsoft-Server-ActiveSync");
    }
    response.body() = report.dump() + "\n";
    // closes=1: Connection: close on the answer (IIS recycling, a load balancer in front of Exchange).
    response.keep_alive(request.keep_alive() && !query_number(target, "closes", 0));
    response.prepare_payload();
    return response;
}

// Sends the report answer the way the knobs ask; false: the connection ends.
template <class Stream>
bool send_report_answer(Stream& stream, const http::request<http::string_body>& request,
                        http::response<http::string_body>& response) {
    const std::string_view target = request.target();
    beast::error_code ec;
    // headbody=1 (a body after the answer to HEAD, which must have none) and extra=1 (a second,
    // unsolicited response right behind the real one) go out in the same write as the answer,
    // so they reach easgate with it (one TLS record), never after it has checked the connection.
    const bool head_body = request.method() == http::verb::head && query_number(target, "headbody", 0);
    const bool extra = query_number(target, "extra", 0) != 0;
    if (head_body || extra) {
        std::ostringstream wire;
        wire << response;  // header and body, whatever the method
        if (extra) wire << "HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\nunsolicited";
        asio::write(stream, asio::buffer(wire.str()), ec);
    } else if (const auto sent = query_number(target, "cutbody", 0)) {
        // cutbody=N: the header and N bytes of the body, a pause for them to reach the device,
        // and the connection ends (rst=1: reset) with the rest of the body never sent; chunked=1:
        // the N bytes as one chunk of a chunked body.
        const bool chunked = query_number(target, "chunked", 0) != 0;
        if (chunked) response.chunked(true);
        http::response_serializer<http::string_body> serializer{response};
        http::write_header(stream, serializer, ec);
        std::ostringstream chunk;
        if (chunked) chunk << std::hex << sent << "\r\n";
        chunk << response.body().substr(0, sent) << (chunked ? "\r\n" : "");
        asio::write(stream, asio::buffer(chunk.str()), ec);
        std::this_thread::sleep_for(std::chrono::milliseconds(300));
        end_connection(stream, target);
        return false;
    } else if (const auto pause = query_number(target, "pausebody", 0)) {
        // pausebody=MS: the header and the body's first byte, then the rest MS later.
        http::response_serializer<http::string_body> serializer{response};
        http::write_header(stream, serializer, ec);
        asio::write(stream, asio::buffer(response.body().substr(0, 1)), ec);
        std::this_thread::sleep_for(std::chrono::milliseconds(pause));
        asio::write(stream, asio::buffer(response.body().substr(1)), ec);
    } else {
        // Connection naming Content-Length: a proxy that obeys it loses the body's framing.
        if (query_number(target, "connectionnamescl", 0))
            response.set(http::field::connection, "Content-Length");
        http::write(stream, response, ec);
    }
    return !ec && response.keep_alive();
}

// Answers one request as its target's knobs ask; false: the connection ends.
template <class Stream>
bool answer(Stream& stream, const http::request<http::string_body>& request, unsigned connection_id,
            unsigned index) {
    const std::string_view target = request.target();
    if (server_health.stopped()) {
        answer_as_stopped_app_pool(stream);
        return false;
    }
    if (is_health_check(target)) return answer_health_check(stream, request);
    // Test knobs ride on an ActiveSync query, as easgate relays nothing else.
    if (query_number(target, "download", 0)) {
        send_download(stream, request);
        return request.keep_alive();
    }
    if (!send_interim_answers(stream, target)) return false;
    if (const auto ms = query_number(target, "delayms", 0))
        std::this_thread::sleep_for(std::chrono::milliseconds(ms));
    if (query_number(target, "hangup", 0)) {
        end_connection(stream, target);
        return false;
    }
    if (query_number(target, "endlesschunkline", 0)) {
        // endlesschunkline=1: a chunked answer whose first chunk-size line goes on for a MiB.
        beast::error_code ec;
        asio::write(stream,
                    asio::buffer("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1;" +
                                 std::string(1 << 20, 'a')),
                    ec);
        return false;
    }
    if (const auto* raw = raw_answer(target)) {
        beast::error_code ec;
        asio::write(stream, asio::buffer(raw->second), ec);
        return !ec && request.keep_alive();
    }
    if (const auto* broken = broken_answer(target)) {
        beast::error_code ec;
        asio::write(stream, asio::buffer(broken->second), ec);
        return true;  // the connection stays open: a proxy that reused it would read on from here
    }
    auto response = report_answer(request, connection_id, index);
    return send_report_answer(stream, request, response);
}

// earlyanswer=1: as IIS refuses a body over maxAllowedContentLength, a 413 as soon as the header
// is in, and the connection closed on the body still coming; earlyanswer=2: a 100 Continue first.
// False: no such knob.
template <class Stream>
bool answer_before_body(Stream& stream, std::string_view target) {
    const auto early = query_number(target, "earlyanswer", 0);
    if (!early) return false;
    std::cout << "early answer to " << target << "\n" << std::flush;
    beast::error_code ec;
    // At once, not held back by Nagle behind the unacknowledged session tickets: a close with the
    // body unread resets the connection, and drops what is still queued.
    beast::get_lowest_layer(stream).set_option(tcp::no_delay(true), ec);
    if (early == 2) asio::write(stream, asio::buffer(std::string_view("HTTP/1.1 100 Continue\r\n\r\n")), ec);
    asio::write(stream,
                asio::buffer(std::string_view("HTTP/1.1 413 Request Entity Too Large\r\nContent-Type: "
                                              "text/plain\r\nConnection: close\r\nContent-Length: "
                                              "14\r\n\r\nmail too big.\n")),
                ec);
    beast::get_lowest_layer(stream).close(ec);
    return true;
}

template <class Stream>
void serve(Stream& stream, unsigned connection_id) {
    beast::flat_buffer buffer;
    for (unsigned index = 1;; ++index) {
        http::request_parser<http::string_body> parser;
        parser.body_limit(boost::none);
        parser.header_limit(1 << 20);
        beast::error_code ec;
        http::read_header(stream, buffer, parser, ec);
        if (ec || answer_before_body(stream, parser.get().target())) return;
        http::read(stream, buffer, parser, ec);
        if (ec) return;
        const auto& request = parser.get();
        // One line per request received, so tests can count deliveries (a replay would show twice).
        // Written once the whole request, body included, has arrived: when Exchange would act on it.
        std::cout << ("request " + std::string(request.method_string()) + " " +
                      std::string(request.target()) + "\n")
                  << std::flush;
        if (!answer(stream, request, connection_id, index)) return;
    }
}

}  // namespace

int main(int argc, char** argv) {
    std::map<std::string, std::string> options;
    for (int i = 1; i + 1 < argc; i += 2) options[argv[i]] = argv[i + 1];
    const bool plain = options["--tls"] == "off";
    server_health.sick_file = options["--sick-file"];
    server_health.stopped_file = options["--stopped-file"];
    asio::io_context context;
    asio::ssl::context tls(asio::ssl::context::tls_server);
    if (!plain) {
        tls.use_certificate_chain_file(options["--cert"]);
        tls.use_private_key_file(options["--key"], asio::ssl::context::pem);
    }
    const auto address =
        asio::ip::make_address(options.count("--address") ? options["--address"] : "127.0.0.1");
    const auto port =
        static_cast<unsigned short>(std::stoi(options.count("--port") ? options["--port"] : "0"));
    tcp::acceptor acceptor(context, {address, port});
    std::cout << "listening on port " << acceptor.local_endpoint().port() << std::endl;
    for (;;) {
        tcp::socket socket = acceptor.accept();
        std::thread([socket = std::move(socket), &tls, plain]() mutable {
            const unsigned id = next_connection_id++;
            beast::error_code ec;
            if (plain) {
                serve(socket, id);
                socket.shutdown(tcp::socket::shutdown_both, ec);
                return;
            }
            beast::ssl_stream<tcp::socket> stream(std::move(socket), tls);
            stream.handshake(asio::ssl::stream_base::server, ec);
            if (ec) return;
            serve(stream, id);
            stream.shutdown(ec);
        }).detach();
    }
}
