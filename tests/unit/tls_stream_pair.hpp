#pragma once

// Both ends of a loopback TLS connection for the common::TlsStream tests: either end a TlsStream
// or Asio's own ssl::stream (the reference it must interoperate with), one TLS version for both.

#include <openssl/ssl.h>

#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <string>
#include <utility>

#include "easgate/common/tls_stream.hpp"
#include "inproc_rig.hpp"

namespace easgate::testing {

using common::TlsStream;
using AsioTlsStream = beast::ssl_stream<beast::tcp_stream>;

// A server that requires a device certificate from the loopback PKI's device CA, and a client with
// alice's certificate that trusts the server CA; both speak only `version` (TLS1_2_VERSION, ...).
struct TlsContexts {
    asio::ssl::context server{asio::ssl::context::tls_server};
    asio::ssl::context client{asio::ssl::context::tls_client};

    explicit TlsContexts(int version) {
        const auto& pki = loopback_pki();
        server.use_certificate_chain_file(pki.server_cert.string());
        server.use_private_key_file(pki.server_key.string(), asio::ssl::context::pem);
        server.load_verify_file(pki.device_ca.string());
        server.set_verify_mode(asio::ssl::verify_peer | asio::ssl::verify_fail_if_no_peer_cert);
        static constexpr unsigned char id[] = "tls-stream-test";
        SSL_CTX_set_session_id_context(server.native_handle(), id, sizeof id - 1);
        client.load_verify_file(pki.server_ca.string());
        client.set_verify_mode(asio::ssl::verify_peer);
        client.use_certificate_chain_file(pki.alice_cert.string());
        client.use_private_key_file(pki.alice_key.string(), asio::ssl::context::pem);
        for (SSL_CTX* ctx : {server.native_handle(), client.native_handle()}) {
            SSL_CTX_set_min_proto_version(ctx, version);
            SSL_CTX_set_max_proto_version(ctx, version);
            SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);  // as easgate's contexts
        }
    }
};

// A Client connected to a Server over loopback, before their handshake; the client will check
// that the server's certificate names `host`, and offer `resume` (when given) for resumption.
template <class Server, class Client>
asio::awaitable<std::pair<Server, Client>> tcp_pair(TlsContexts& tls, const std::string& host,
                                                    SSL_SESSION* resume) {
    const auto executor = co_await asio::this_coro::executor;
    asio::ip::tcp::acceptor acceptor(executor, {asio::ip::make_address("127.0.0.1"), 0});
    asio::ip::tcp::socket socket(executor);
    co_await socket.async_connect(acceptor.local_endpoint(), asio::use_awaitable);
    Server server(co_await acceptor.async_accept(asio::use_awaitable), tls.server);
    Client client(std::move(socket), tls.client);
    X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(client.native_handle()), host.c_str());
    if (resume) SSL_set_session(client.native_handle(), resume);
    co_return std::pair<Server, Client>{std::move(server), std::move(client)};
}

template <class Stream>
asio::awaitable<boost::system::error_code> handshake_error(Stream& stream,
                                                           asio::ssl::stream_base::handshake_type type) {
    auto [error] = co_await stream.async_handshake(type, use_nothrow);
    co_return error;
}

// What the handshake came to on each end: {server's error, client's error}.
template <class Server, class Client>
asio::awaitable<std::pair<boost::system::error_code, boost::system::error_code>> handshake_errors(
    TlsContexts& tls, const std::string& host) {
    using namespace asio::experimental::awaitable_operators;
    auto [server, client] = co_await tcp_pair<Server, Client>(tls, host, nullptr);
    auto [server_end, client_end] = co_await (handshake_error(server, asio::ssl::stream_base::server) &&
                                              handshake_error(client, asio::ssl::stream_base::client));
    co_return std::pair{server_end, client_end};
}

// Both ends, handshaken. The streams are moved after their handshake, as UpstreamConnection moves them.
template <class Server, class Client>
asio::awaitable<std::pair<Server, Client>> tls_pair(TlsContexts& tls, const std::string& host = "127.0.0.1",
                                                    SSL_SESSION* resume = nullptr) {
    using namespace asio::experimental::awaitable_operators;
    auto ends = co_await tcp_pair<Server, Client>(tls, host, resume);
    co_await (ends.first.async_handshake(asio::ssl::stream_base::server, asio::use_awaitable) &&
              ends.second.async_handshake(asio::ssl::stream_base::client, asio::use_awaitable));
    co_return std::pair<Server, Client>{std::move(ends.first), std::move(ends.second)};
}

// Ends a connection the way UpstreamConnection::close does, keeping its session resumable.
inline void close_keeping_session(SSL* ssl) {
    SSL_set_shutdown(ssl, SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
}

// `size` bytes that differ from one position to the next, so a byte lost or repeated shows.
inline std::string pattern(std::size_t size) {
    std::string bytes(size, '\0');
    for (std::size_t i = 0; i < size; ++i) bytes[i] = static_cast<char>((i * 7 + i / 251) & 0xff);
    return bytes;
}

// Reads exactly `size` bytes.
template <class Stream>
asio::awaitable<std::string> read_exactly(Stream& stream, std::size_t size) {
    std::string bytes(size, '\0');
    co_await asio::async_read(stream, asio::buffer(bytes), asio::use_awaitable);
    co_return bytes;
}

inline std::string tls_version_name(const ::testing::TestParamInfo<int>& info) {
    return info.param == TLS1_3_VERSION ? "Tls13" : "Tls12";
}

}  // namespace easgate::testing
