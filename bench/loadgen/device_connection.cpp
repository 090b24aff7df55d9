#include "device_connection.hpp"

#include <array>
#include <boost/asio/buffer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/http.hpp>

#include "easgate/common/use_nothrow.hpp"

namespace easgate::bench {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
using easgate::common::use_nothrow;

// Failures of reading or writing, by what the device would have seen.
std::string io_failure(const boost::system::error_code& ec) {
    if (ec == beast::error::timeout) return "timeout";
    if (ec == http::error::partial_message) return "short_body";
    if (ec == http::error::end_of_stream || ec == asio::error::eof || ec == asio::error::connection_reset ||
        ec == asio::ssl::error::stream_truncated)
        return "closed";
    return "io";
}

}  // namespace

asio::awaitable<std::string> DeviceConnection::open(asio::ip::tcp::endpoint target, SSL_SESSION* resume,
                                                    Clock::duration timeout) {
    close();
    stream_.emplace(executor_, context_);
    SSL* ssl = stream_->native_handle();
    SSL_use_certificate(ssl, device_.certificate.get());
    SSL_use_PrivateKey(ssl, device_.key.get());
    if (resume) SSL_set_session(ssl, resume);
    auto& tcp = beast::get_lowest_layer(*stream_);
    tcp.expires_after(timeout);
    if (auto [ec] = co_await tcp.async_connect(target, use_nothrow); ec) {
        close();
        co_return ec == beast::error::timeout ? "timeout" : "connect";
    }
    tcp.socket().set_option(asio::ip::tcp::no_delay(true));
    if (auto [ec] = co_await stream_->async_handshake(asio::ssl::stream_base::client, use_nothrow); ec) {
        close();
        co_return ec == beast::error::timeout ? "timeout" : "tls";
    }
    co_return "";
}

asio::awaitable<std::string> DeviceConnection::write(std::string_view header, std::string_view body,
                                                     Clock::duration timeout) {
    beast::get_lowest_layer(*stream_).expires_after(timeout);
    const std::array buffers{asio::buffer(header), asio::buffer(body)};
    auto [ec, written] = co_await asio::async_write(*stream_, buffers, use_nothrow);
    co_return ec ? io_failure(ec) : "";
}

asio::awaitable<Reply> DeviceConnection::read(Clock::duration timeout) {
    auto& tcp = beast::get_lowest_layer(*stream_);
    if (timeout.count() > 0) {
        tcp.expires_after(timeout);
    } else {
        tcp.expires_never();
    }
    http::response_parser<http::string_body> parser;
    parser.body_limit(boost::none);
    auto [ec, read] = co_await http::async_read(*stream_, buffer_, parser, use_nothrow);
    if (ec) co_return Reply{.error = io_failure(ec)};
    const auto& response = parser.get();
    Reply reply{.error = {}, .status = response.result_int(), .body_bytes = response.body().size()};
    if (reply.status / 100 != 2) reply.error = "http_" + std::to_string(reply.status);
    if (!response.keep_alive()) close();
    co_return reply;
}

SessionPtr DeviceConnection::session() const {
    if (!stream_) return {};
    SSL_SESSION* session = SSL_get1_session(const_cast<Stream&>(*stream_).native_handle());
    return session ? SessionPtr(session, SSL_SESSION_free) : SessionPtr();
}

void DeviceConnection::close() {
    if (!stream_) return;
    // Dropped without a close_notify, as phones do; marked shut down all the same, or OpenSSL would
    // make the session unresumable.
    SSL_set_shutdown(stream_->native_handle(), SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
    boost::system::error_code ignored;
    beast::get_lowest_layer(*stream_).socket().close(ignored);
    stream_.reset();
    buffer_.clear();
}

// The fields an iPhone's Mail sends with every command, in its order (its Authorization too, when
// the profile has a password; none here, as with certificate-only profiles): what a held Ping
// keeps in a proxy's memory and every request costs to parse.
std::string activesync_header(const Device& device, std::string_view command, std::size_t body_bytes,
                              std::string_view content_type) {
    std::string header = "POST /Microsoft-Server-ActiveSync?User=";
    header.append(device.user).append("&DeviceId=").append(device.device_id);
    header.append("&DeviceType=iPhone&Cmd=").append(command).append(" HTTP/1.1\r\n");
    header.append("Connection: keep-alive\r\nUser-Agent: Apple-iPhone15C2/2008.59\r\n");
    header.append("Content-Length: ").append(std::to_string(body_bytes)).append("\r\n");
    header.append("Content-Type: ").append(content_type).append("\r\n");
    header.append("Accept-Encoding: gzip, deflate, br\r\nAccept-Language: en-GB,en;q=0.9\r\n");
    header.append("X-MS-PolicyKey: 3769048351\r\nMS-ASProtocolVersion: 16.1\r\nAccept: */*\r\n");
    header.append("Host: mail.lab.example\r\n\r\n");
    return header;
}

}  // namespace easgate::bench
