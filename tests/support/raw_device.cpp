#include "raw_device.hpp"

#include <poll.h>

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
        break;
    }
    return exchange;
}

}  // namespace easgate::testing
