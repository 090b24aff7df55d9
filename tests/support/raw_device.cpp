#include "raw_device.hpp"

#include <poll.h>

#include <algorithm>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <optional>
#include <thread>

namespace easgate::testing {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;

asio::ssl::context device_tls(const std::filesystem::path& gateway_ca, const std::filesystem::path& cert,
                              const std::filesystem::path& key) {
    asio::ssl::context tls(asio::ssl::context::tls_client);
    tls.load_verify_file(gateway_ca.string());
    tls.set_verify_mode(asio::ssl::verify_peer);
    tls.use_certificate_chain_file(cert.string());
    tls.use_private_key_file(key.string(), asio::ssl::context::pem);
    return tls;
}

RawExchange send_raw(std::uint16_t port, const std::filesystem::path& gateway_ca,
                     const std::filesystem::path& cert, const std::filesystem::path& key,
                     const std::string& request, std::chrono::milliseconds timeout) {
    asio::io_context context;
    auto tls = device_tls(gateway_ca, cert, key);
    asio::ssl::stream<asio::ip::tcp::socket> stream(context, tls);
    stream.next_layer().connect({asio::ip::make_address("127.0.0.1"), port});
    stream.handshake(asio::ssl::stream_base::client);
    asio::write(stream, asio::buffer(request));

    // Reads until the gateway closes or nothing comes for `timeout` (Asio's blocking reads would
    // wait for ever, so the socket is non-blocking and the waits are poll's).
    stream.next_layer().non_blocking(true);
    RawExchange exchange;
    char chunk[4096];
    for (;;) {
        boost::system::error_code ec;
        const auto n = stream.read_some(asio::buffer(chunk), ec);
        exchange.response.append(chunk, n);
        if (!ec) continue;
        if (ec == asio::error::would_block || ec == asio::error::try_again) {
            pollfd ready{stream.next_layer().native_handle(), POLLIN, 0};
            if (::poll(&ready, 1, static_cast<int>(timeout.count())) > 0) continue;
            break;  // the gateway kept the connection open
        }
        exchange.closed = true;
        exchange.close_notify = ec == asio::error::eof;  // without one: ssl::error::stream_truncated
        break;
    }
    return exchange;
}

PacedUpload upload_paced(std::uint16_t port, const std::filesystem::path& gateway_ca,
                         const std::filesystem::path& cert, const std::filesystem::path& key,
                         const std::string& header, std::size_t body_bytes,
                         std::chrono::milliseconds duration) {
    asio::io_context context;
    auto tls = device_tls(gateway_ca, cert, key);
    asio::ssl::stream<asio::ip::tcp::socket> stream(context, tls);
    stream.next_layer().connect({asio::ip::make_address("127.0.0.1"), port});
    stream.handshake(asio::ssl::stream_base::client);
    PacedUpload upload;
    boost::system::error_code ec;
    asio::write(stream, asio::buffer(header), ec);
    const std::string piece(16 * 1024, 'u');
    const std::size_t pieces = (body_bytes + piece.size() - 1) / piece.size();
    const auto pause = duration / static_cast<long>(std::max<std::size_t>(pieces, 1));
    for (std::size_t sent = 0; !ec && sent < body_bytes; sent += piece.size()) {
        asio::write(stream, asio::buffer(piece.data(), std::min(piece.size(), body_bytes - sent)), ec);
        std::this_thread::sleep_for(pause);
    }
    upload.body_sent = !ec;
    asio::read(stream, asio::dynamic_buffer(upload.response), ec);  // to the gateway's close
    return upload;
}

ResumingExchange exchange_resuming(std::uint16_t port, asio::ssl::context& tls, const std::string& request,
                                   SSL_SESSION* session) {
    asio::io_context context;
    SSL_CTX_set_session_cache_mode(tls.native_handle(), SSL_SESS_CACHE_CLIENT);
    asio::ssl::stream<asio::ip::tcp::socket> stream(context, tls);
    stream.next_layer().connect({asio::ip::make_address("127.0.0.1"), port});
    if (session != nullptr) SSL_set_session(stream.native_handle(), session);
    ResumingExchange exchange;
    boost::system::error_code ec;
    stream.handshake(asio::ssl::stream_base::client, ec);
    if (ec) return exchange;
    asio::write(stream, asio::buffer(request), ec);
    asio::read(stream, asio::dynamic_buffer(exchange.response), ec);  // to the end: send Connection: close
    exchange.resumed = SSL_session_reused(stream.native_handle()) == 1;
    exchange.session.reset(SSL_get1_session(stream.native_handle()));
    // Marked shut down, or OpenSSL would make the session unresumable.
    SSL_set_shutdown(stream.native_handle(), SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
    return exchange;
}

// Asio's blocking operations ignore timeouts: each step is an asynchronous one, run to completion
// with beast::tcp_stream's deadline.
struct DeviceConnection::State {
    State(const std::string& address, std::uint16_t port, asio::ssl::context device_tls)
        : gateway(asio::ip::make_address(address), port), tls(std::move(device_tls)) {}

    asio::ip::tcp::endpoint gateway;
    asio::io_context context;
    asio::ssl::context tls;
    std::optional<beast::ssl_stream<beast::tcp_stream>> stream;
    beast::flat_buffer buffer;

    template <class Start>
    boost::system::error_code run(Start start) {
        boost::system::error_code result;
        start([&result](const boost::system::error_code& ec, auto&&...) { result = ec; });
        context.restart();
        context.run();
        return result;
    }

    boost::system::error_code connect(std::chrono::milliseconds timeout) {
        stream.emplace(context, tls);
        buffer.clear();
        beast::get_lowest_layer(*stream).expires_after(timeout);
        if (auto ec = run([&](auto done) { beast::get_lowest_layer(*stream).async_connect(gateway, done); }))
            return ec;
        return run([&](auto done) { stream->async_handshake(asio::ssl::stream_base::client, done); });
    }

    boost::system::error_code write(std::string_view bytes) {
        return run([&](auto done) { asio::async_write(*stream, asio::buffer(bytes), done); });
    }
};

DeviceConnection::DeviceConnection(std::uint16_t port, const std::filesystem::path& gateway_ca,
                                   const std::filesystem::path& cert, const std::filesystem::path& key,
                                   const std::string& address)
    : state_(std::make_unique<State>(address, port, device_tls(gateway_ca, cert, key))) {}

DeviceConnection::~DeviceConnection() = default;

unsigned DeviceConnection::exchange(const std::string& request, std::size_t split,
                                    std::chrono::milliseconds pause, std::chrono::milliseconds timeout) {
    auto& state = *state_;
    if (!state.stream && state.connect(timeout)) {
        state.stream.reset();
        return 0;
    }
    beast::get_lowest_layer(*state.stream).expires_after(timeout);
    const std::string_view bytes(request);
    const auto first = split > 0 ? split : bytes.size();
    auto ec = state.write(bytes.substr(0, first));
    if (!ec && first < bytes.size()) {
        std::this_thread::sleep_for(pause);
        ec = state.write(bytes.substr(first));
    }
    http::response_parser<http::string_body> parser;
    parser.body_limit(boost::none);
    if (!ec) ec = state.run([&](auto done) { http::async_read(*state.stream, state.buffer, parser, done); });
    if (ec || !parser.get().keep_alive()) state.stream.reset();
    return ec ? 0 : parser.get().result_int();
}

}  // namespace easgate::testing
