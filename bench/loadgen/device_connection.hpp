#pragma once

// One device's TLS connection to the target: its own client certificate in the handshake, then
// ActiveSync requests on it. Every wait has a timeout; failures come back as the kind Stats counts.

#include <openssl/ssl.h>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "device_pki.hpp"

namespace easgate::bench {

namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;

struct Reply {
    std::string error;  // empty: a 2xx answer read whole; else the failure's kind
    unsigned status = 0;
    std::size_t body_bytes = 0;
};

using SessionPtr = std::shared_ptr<SSL_SESSION>;

class DeviceConnection {
public:
    DeviceConnection(asio::any_io_executor executor, asio::ssl::context& context, const Device& device)
        : executor_(std::move(executor)), context_(context), device_(device) {}

    // TCP connect and TLS handshake; resume: a session of this device's to offer, or null. Empty or a
    // failure's kind.
    asio::awaitable<std::string> open(asio::ip::tcp::endpoint target, SSL_SESSION* resume,
                                      Clock::duration timeout);
    // Writes a request (header text, then body); empty or a failure's kind.
    asio::awaitable<std::string> write(std::string_view header, std::string_view body,
                                       Clock::duration timeout);
    // Reads one response; a zero timeout waits as long as it takes (a held Ping).
    asio::awaitable<Reply> read(Clock::duration timeout);
    // The TLS session to resume with next time (TLS 1.3: the ticket read along with the response).
    SessionPtr session() const;
    bool is_open() const { return stream_.has_value(); }
    bool resumed() const {
        return stream_ && SSL_session_reused(const_cast<Stream&>(*stream_).native_handle());
    }
    void close();

private:
    using Stream = asio::ssl::stream<boost::beast::tcp_stream>;

    asio::any_io_executor executor_;
    asio::ssl::context& context_;
    const Device& device_;
    std::optional<Stream> stream_;
    boost::beast::flat_buffer buffer_;
};

// The header of an ActiveSync POST for this device (Cmd=command, Content-Length body_bytes).
std::string activesync_header(const Device& device, std::string_view command, std::size_t body_bytes,
                              std::string_view content_type = "application/vnd.ms-sync.wbxml");

}  // namespace easgate::bench
