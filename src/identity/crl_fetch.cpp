#include "easgate/identity/crl_fetch.hpp"

#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <optional>

#include "easgate/common/read_buffer.hpp"
#include "easgate/common/resolve.hpp"
#include "easgate/common/use_nothrow.hpp"
#include "easgate/config/units.hpp"

namespace easgate::identity {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using easgate::common::use_nothrow;

struct HttpUrl {
    std::string host;  // without the brackets of an IPv6 literal
    std::string port = "80";
    std::string host_header;
    std::string target;
};

// http://host[:port][/path]; nullopt for anything else (https and ldap are not fetched here).
std::optional<HttpUrl> parse_http_url(const std::string& url) {
    constexpr std::string_view scheme = "http://";
    if (url.rfind(scheme, 0) != 0) return std::nullopt;
    const auto authority_end = url.find_first_of("/?#", scheme.size());
    HttpUrl parsed;
    parsed.host_header = url.substr(scheme.size(), authority_end - scheme.size());
    parsed.target = authority_end == std::string::npos ? "/" : url.substr(authority_end);
    const std::string& authority = parsed.host_header;
    const auto bracket = authority.rfind(']');
    const auto colon = authority.rfind(':');
    const bool has_port = colon != std::string::npos && (bracket == std::string::npos || colon > bracket);
    parsed.host = authority.substr(0, has_port ? colon : std::string::npos);
    if (has_port) parsed.port = authority.substr(colon + 1);
    if (parsed.host.size() >= 2 && parsed.host.front() == '[')
        parsed.host = parsed.host.substr(1, parsed.host.size() - 2);
    if (parsed.host.empty() || parsed.port.empty() || authority.find('@') != std::string::npos)
        return std::nullopt;
    return parsed;
}

// The most an answer's header, or one chunk-size line or its trailer section, may take.
constexpr std::size_t answer_line_bytes = 16 * 1024;

}  // namespace

asio::awaitable<FetchedCrl> fetch_crl(const std::string& url, std::chrono::milliseconds timeout,
                                      std::uint64_t max_bytes) {
    const auto parsed = parse_http_url(url);
    if (!parsed) co_return FetchedCrl{{}, "not an http:// URL"};
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    const auto [resolve_ec, endpoints] =
        co_await common::resolve_before(parsed->host, parsed->port, deadline);
    if (resolve_ec) co_return FetchedCrl{{}, "resolving " + parsed->host + ": " + resolve_ec.message()};

    beast::tcp_stream stream(co_await asio::this_coro::executor);
    stream.expires_at(deadline);  // one deadline for the connect, the request and the whole answer
    if (auto [ec, endpoint] = co_await stream.async_connect(endpoints, use_nothrow); ec)
        co_return FetchedCrl{{}, "connecting: " + ec.message()};
    http::request<http::empty_body> request{http::verb::get, parsed->target, 11};
    request.set(http::field::host, parsed->host_header);
    request.set(http::field::user_agent, "easgate-crl-refresh");
    request.keep_alive(false);
    if (auto [ec, sent] = co_await http::async_write(stream, request, use_nothrow); ec)
        co_return FetchedCrl{{}, "sending the request: " + ec.message()};
    // Beast's parser bounds neither a chunk-size line nor a trailer section: an answer sending one
    // that never ends would grow the buffer until the deadline. The body goes to the string.
    beast::flat_buffer buffer;
    buffer.max_size(common::read_buffer_limit(answer_line_bytes));
    http::response_parser<http::string_body> parser;
    parser.header_limit(answer_line_bytes);
    parser.body_limit(max_bytes);
    if (auto [ec, read] = co_await http::async_read(stream, buffer, parser, use_nothrow); ec) {
        if (ec == http::error::body_limit)
            co_return FetchedCrl{{}, "the CRL is larger than client_auth.crl_refresh.max_crl_bytes"};
        if (ec == http::error::buffer_overflow)
            co_return FetchedCrl{{},
                                 "reading the answer: a chunk-size line or the trailer section is longer "
                                 "than " +
                                     config::format_size(answer_line_bytes)};
        co_return FetchedCrl{{}, "reading the answer: " + ec.message()};
    }
    auto response = parser.release();
    if (response.result() != http::status::ok)
        co_return FetchedCrl{
            {}, "answered " + std::to_string(response.result_int()) + " " + std::string(response.reason())};
    co_return FetchedCrl{std::move(response.body()), {}};
}

bool directory_crl_url(const std::string& url) { return url.rfind("ldap:///", 0) == 0; }

bool fetchable_crl_url(const std::string& url) {
    return url.rfind("http://", 0) == 0 || directory_crl_url(url);
}

asio::awaitable<FetchedCrl> fetch_crl_from(std::string url, config::CrlRefresh settings,
                                           DirectoryCrlReader directory) {
    if (!directory_crl_url(url)) co_return co_await fetch_crl(url, settings.timeout, settings.max_crl_bytes);
    if (!directory)
        co_return FetchedCrl{
            {}, "an ldap:/// location is read from the directory, and there is no directory section"};
    auto read = co_await directory(url, settings.timeout);
    if (!read) co_return FetchedCrl{{}, read.error().reason, read.error().cause == "unusable_url"};
    if (read->size() > settings.max_crl_bytes)
        co_return FetchedCrl{{}, "the CRL is larger than client_auth.crl_refresh.max_crl_bytes"};
    co_return FetchedCrl{std::move(*read), {}};
}

}  // namespace easgate::identity
