#include "probe.hpp"

#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>

#include <array>
#include <boost/asio/connect.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>

#include "easgate/config/units.hpp"
#include "easgate/kerberos/as_exchange.hpp"

namespace easgate::doctor {
namespace asio = boost::asio;
namespace http = boost::beast::http;

namespace {

// RFC 4511 ExtendedRequest, message ID 1, requestName 1.3.6.1.4.1.1466.20037 (StartTLS).
constexpr std::array<unsigned char, 31> start_tls_request{
    0x30, 0x1d, 0x02, 0x01, 0x01, 0x77, 0x18, 0x80, 0x16, '1', '.', '3', '.', '6', '.', '1',
    '.',  '4',  '.',  '1',  '.',  '1',  '4',  '6',  '6',  '.', '2', '0', '0', '3', '7'};

// The resultCode of an ExtendedResponse ([APPLICATION 24] then ENUMERATED), or -1.
int extended_result_code(const unsigned char* data, std::size_t size) {
    for (std::size_t i = 0; i + 4 < size; ++i)
        if (data[i] == 0x78 && data[i + 2] == 0x0a && data[i + 3] == 0x01) return data[i + 4];
    return -1;
}

// What the operator should do about a certificate OpenSSL would not verify.
std::string verification_advice(long result) {
    switch (result) {
        case X509_V_ERR_HOSTNAME_MISMATCH:
        case X509_V_ERR_IP_ADDRESS_MISMATCH:
            return "the certificate does not name this host: use a name from its subject alternative "
                   "names, or reissue the certificate with this name in it";
        case X509_V_ERR_CERT_HAS_EXPIRED:
            return "the certificate has expired: renew it on the server";
        case X509_V_ERR_CERT_NOT_YET_VALID:
            return "the certificate is not valid yet: check the clocks of this host and the server";
        case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
        case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
        case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
        case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
            return "the CA that issued it is not in the configured ca_file: add that CA's certificate "
                   "(PEM) to it";
        default:
            return "see the reason above";
    }
}

}  // namespace

Probe::Probe(std::chrono::milliseconds timeout, const std::string& ca_file)
    : timeout_(timeout), ssl_(asio::ssl::context::tls_client), stream_(io_, ssl_) {
    boost::system::error_code error;
    if (ca_file.empty())
        ssl_.set_default_verify_paths(error);
    else
        ssl_.load_verify_file(ca_file, error);
    if (error) ca_error_ = "can't load the CA file " + ca_file + ": " + error.message();
    // The stream's SSL object copied the context's verify mode when it was made, before this; the CA
    // store it shares with the context.
    SSL_set_verify(stream_.native_handle(), SSL_VERIFY_PEER, nullptr);
}

// Starts an asynchronous step and runs it to completion or the timeout, whichever comes first.
template <class Start>
boost::system::error_code Probe::run(Start start) {
    boost::system::error_code result;
    bool done = false;
    io_.restart();
    start([&](boost::system::error_code error, auto&&...) {
        result = error;
        done = true;
    });
    io_.run_for(timeout_);
    if (done) return result;
    boost::system::error_code ignored;
    stream_.next_layer().close(ignored);  // completes the step, aborted
    io_.restart();
    io_.run();
    return asio::error::timed_out;
}

std::string Probe::connect(const std::string& host, std::uint16_t port) {
    asio::ip::tcp::resolver resolver(io_);
    boost::system::error_code error;
    const auto endpoints = resolver.resolve(host, std::to_string(port), error);
    if (error) return "can't resolve " + host + ": " + error.message();
    error = run([&](auto handler) { asio::async_connect(stream_.next_layer(), endpoints, handler); });
    if (!error) return {};
    return "no TCP connection to " + host + ":" + std::to_string(port) + " within " +
           config::format_duration(timeout_) + ": " + error.message();
}

std::string Probe::start_ldap_tls() {
    auto error = run([&](auto handler) {
        asio::async_write(stream_.next_layer(), asio::buffer(start_tls_request), handler);
    });
    std::array<unsigned char, 512> answer{};
    std::size_t received = 0;
    if (!error) {
        error = run([&](auto handler) {
            stream_.next_layer().async_read_some(asio::buffer(answer), [&, handler](auto e, std::size_t n) {
                received = n;
                handler(e);
            });
        });
    }
    if (error) return "no answer to the StartTLS request: " + error.message();
    const int code = extended_result_code(answer.data(), received);
    if (code == 0) return {};
    return "the server refused StartTLS (LDAP result " + std::to_string(code) +
           "): it has no certificate, or wants ldaps://";
}

std::string Probe::handshake(const std::string& host) {
    if (!ca_error_.empty()) return ca_error_;
    SSL* ssl = stream_.native_handle();
    boost::system::error_code error;
    const auto address = asio::ip::make_address(host, error);
    if (error) {
        SSL_set_tlsext_host_name(ssl, host.c_str());
        SSL_set1_host(ssl, host.c_str());
    } else {
        X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), address.to_string().c_str());
    }
    error = run([&](auto handler) { stream_.async_handshake(asio::ssl::stream_base::client, handler); });
    if (!error) {
        tls_ = true;
        return {};
    }
    const long verified = SSL_get_verify_result(ssl);
    if (verified != X509_V_OK) {
        return std::string("TLS certificate verification failed: ") +
               X509_verify_cert_error_string(verified) + "; " + verification_advice(verified);
    }
    return "TLS handshake failed: " + error.message();
}

std::string Probe::open(const std::string& host, std::uint16_t port, bool tls) {
    std::string error = connect(host, port);
    if (error.empty() && tls) error = handshake(host);
    return error;
}

std::string Probe::exchange(HttpRequest& request, HttpResponse& response) {
    request.prepare_payload();
    boost::beast::flat_buffer buffer;
    const auto step = [&](auto& stream) {
        auto error = run([&](auto handler) { http::async_write(stream, request, handler); });
        if (!error) error = run([&](auto handler) { http::async_read(stream, buffer, response, handler); });
        return error;
    };
    const auto error = tls_ ? step(stream_) : step(stream_.next_layer());
    return error ? "no HTTP answer: " + error.message() : std::string();
}

X509* Probe::peer_certificate() { return SSL_get0_peer_certificate(stream_.native_handle()); }

Probe::KerberosOutcome Probe::kerberos_exchange(std::string_view request, std::string& reply) {
    const std::string message = kerberos::tcp_frame(request);
    auto& socket = stream_.next_layer();
    auto error = run([&](auto handler) { asio::async_write(socket, asio::buffer(message), handler); });
    std::array<unsigned char, 4> answer_length{};
    if (!error)
        error = run([&](auto handler) { asio::async_read(socket, asio::buffer(answer_length), handler); });
    if (error == asio::error::timed_out)
        return {"accepted the connection and did not answer within " + config::format_duration(timeout_),
                true};
    if (error) return {"closed the connection without an answer: " + error.message()};
    const std::uint32_t size = kerberos::tcp_frame_length(answer_length);
    if (size > 1024 * 1024)
        return {"answered with a frame of " + std::to_string(size) + " bytes: is it a KDC?"};
    reply.resize(size);
    error = run([&](auto handler) { asio::async_read(socket, asio::buffer(reply), handler); });
    if (error) return {"sent part of an answer: " + error.message()};
    return {};
}

}  // namespace easgate::doctor
