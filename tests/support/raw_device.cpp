#include "raw_device.hpp"

#include <sys/socket.h>
#include <sys/time.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/write.hpp>

namespace easgate::testing {

namespace asio = boost::asio;

RawExchange send_raw(std::uint16_t port, const std::filesystem::path& gateway_ca,
                     const std::filesystem::path& cert, const std::filesystem::path& key,
                     const std::string& request, std::chrono::milliseconds timeout) {
    asio::io_context context;
    asio::ssl::context tls(asio::ssl::context::tls_client);
    tls.load_verify_file(gateway_ca.string());
    tls.set_verify_mode(asio::ssl::verify_peer);
    tls.use_certificate_chain_file(cert.string());
    tls.use_private_key_file(key.string(), asio::ssl::context::pem);
    asio::ssl::stream<asio::ip::tcp::socket> stream(context, tls);
    stream.next_layer().connect({asio::ip::make_address("127.0.0.1"), port});
    // Blocking reads give up after the timeout: the gateway kept the connection open.
    timeval limit{};
    limit.tv_sec = static_cast<time_t>(timeout.count() / 1000);
    limit.tv_usec = static_cast<suseconds_t>((timeout.count() % 1000) * 1000);
    ::setsockopt(stream.next_layer().native_handle(), SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof limit);
    stream.handshake(asio::ssl::stream_base::client);
    asio::write(stream, asio::buffer(request));

    RawExchange exchange;
    char chunk[4096];
    for (;;) {
        boost::system::error_code ec;
        const auto n = stream.read_some(asio::buffer(chunk), ec);
        exchange.response.append(chunk, n);
        if (!ec) continue;
        exchange.closed = ec != asio::error::would_block && ec != asio::error::try_again;
        break;
    }
    return exchange;
}

}  // namespace easgate::testing
