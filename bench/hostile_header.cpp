// What a request header costs easgate's I/O thread from parse to the bytes for Exchange, for an
// ordinary iPhone request and for the worst headers an authenticated device can send within
// limits.max_header_bytes: thousands of empty hop-by-hop fields, thousands of fields each named
// in a Connection list of thousands of names, or thousands of fields against a Connection list of
// one name repeated thousands of times. Every other device on the thread waits that long.
//   easgate-hostile-header [ROUNDS]      prints microseconds per header for each case
#include <boost/asio/buffer.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "easgate/common/header_arena.hpp"
#include "easgate/common/message_writer.hpp"
#include "easgate/config/upstream_target.hpp"
#include "easgate/listener/eas_headers.hpp"
#include "easgate/listener/request_framing.hpp"
#include "easgate/upstream/header_rewrite.hpp"

namespace {

using namespace easgate;

const std::string request_line =
    "POST /Microsoft-Server-ActiveSync?Cmd=Sync&User=alice&DeviceId=ABCDEF0123456789&DeviceType=iPhone "
    "HTTP/1.1\r\n";

std::string iphone() {
    return request_line +
           "Host: mail.example.com\r\nContent-Type: application/vnd.ms-sync.wbxml\r\nAccept: */*\r\n"
           "Accept-Language: en-GB,en;q=0.9\r\nAccept-Encoding: gzip, deflate, br\r\n"
           "User-Agent: Apple-iPhone15C2/2107.7\r\nMS-ASProtocolVersion: 16.1\r\nX-MS-PolicyKey: "
           "3942919513\r\n"
           "Content-Length: 1024\r\nConnection: keep-alive\r\n\r\n";
}

// Empty TE fields (hop-by-hop, all erased) up to `limit` bytes.
std::string hop_by_hop_fields(std::size_t limit) {
    std::string raw = request_line + "Host: mail.example.com\r\n";
    while (raw.size() + 5 + 2 <= limit) raw += "TE:\r\n";
    return raw + "\r\n";
}

// Half the room a Connection list of distinct three-letter names, half fields with such names.
std::string named_fields(std::size_t limit) {
    std::string raw = request_line + "Host: mail.example.com\r\nConnection: ";
    const auto name = [](std::size_t i) {
        return std::string{static_cast<char>('a' + i / 676 % 26), static_cast<char>('a' + i / 26 % 26),
                           static_cast<char>('a' + i % 26)};
    };
    std::size_t names = 0;
    for (; raw.size() + 4 < limit / 2; ++names) {
        if (names > 0) raw += ',';
        raw += name(names);
    }
    raw += "\r\n";
    for (std::size_t i = 0; raw.size() + 6 + 2 <= limit; ++i) raw += name(i % names) + ":\r\n";
    return raw + "\r\n";
}

// Half the room one name over and over in Connection, half fields of another name as long: each
// comparison of the two reads to their last letter.
std::string repeated_name(std::size_t limit) {
    std::string raw = request_line + "Host: mail.example.com\r\nConnection: x-b";
    while (raw.size() + 4 < limit / 2) raw += ",x-b";
    raw += "\r\n";
    while (raw.size() + 6 + 2 <= limit) raw += "X-A:\r\n";
    return raw + "\r\n";
}

// Parse, admission checks, the rewrite and the bytes for Exchange, as DownstreamSession and
// UpstreamExchange do them.
std::size_t one_header(const std::string& raw, const config::UpstreamTarget& target) {
    common::ParserInArena<common::RequestParser> in_arena;
    auto& parser = in_arena.parser;
    parser.header_limit(static_cast<std::uint32_t>(raw.size()));
    boost::system::error_code ec;
    parser.put(boost::asio::buffer(raw), ec);
    if (ec) {
        std::fprintf(stderr, "the header does not parse: %s\n", ec.message().c_str());
        std::exit(1);
    }
    auto& header = parser.get();
    if (!listener::framing_error(header).empty()) std::exit(1);
    const auto eas = listener::eas_headers_of(header);
    upstream::rewrite_request_for_upstream(header.base(), "192.0.2.7", true);
    upstream::address_request(header.base(), target, {false, 1024}, 1024);
    return common::MessageWriter(header.base()).head().size() + eas.protocol_version.size();
}

}  // namespace

int main(int argc, char** argv) {
    const int rounds = argc > 1 ? std::atoi(argv[1]) : 20;
    const auto target = config::parse_upstream_url("https://exchange.example.com");
    struct Case {
        const char* name;
        std::string raw;
    };
    const std::vector<Case> cases{{"iPhone Sync", iphone()},
                                  {"32 KiB of empty TE fields", hop_by_hop_fields(32 << 10)},
                                  {"64 KiB of empty TE fields", hop_by_hop_fields(64 << 10)},
                                  {"32 KiB, fields named in Connection", named_fields(32 << 10)},
                                  {"64 KiB, fields named in Connection", named_fields(64 << 10)},
                                  {"32 KiB, one name repeated in Connection", repeated_name(32 << 10)},
                                  {"64 KiB, one name repeated in Connection", repeated_name(64 << 10)}};
    for (const auto& [name, raw] : cases) {
        std::size_t sink = 0;
        const auto start = std::chrono::steady_clock::now();
        for (int i = 0; i < rounds; ++i) sink += one_header(raw, *target);
        const std::chrono::duration<double, std::micro> spent = std::chrono::steady_clock::now() - start;
        std::printf("%-38s %6zu bytes: %10.1f us per header (%zu)\n", name, raw.size(),
                    spent.count() / rounds, sink / static_cast<std::size_t>(rounds));
    }
}
