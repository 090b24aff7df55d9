#pragma once

// The doctor's own connections, made to explain what a library would only call "can't contact
// the server": TCP, the LDAP StartTLS operation, the TLS handshake with the reason verification
// failed (unknown CA, name mismatch, expired), an HTTP exchange. Blocking; each step ends within
// the timeout given.

#include <openssl/x509.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace easgate::doctor {

using HttpRequest = boost::beast::http::request<boost::beast::http::string_body>;
using HttpResponse = boost::beast::http::response<boost::beast::http::string_body>;

class Probe {
public:
    // ca_file verifies the server's certificate; the system's store when empty.
    Probe(std::chrono::milliseconds timeout, const std::string& ca_file);

    // Each returns "" when the step worked, else what went wrong, worded for the operator.
    std::string connect(const std::string& host, std::uint16_t port);
    std::string start_ldap_tls();  // the StartTLS extended operation, in the clear
    std::string handshake(const std::string& host);
    // connect, then with tls the handshake: a server as easgate reaches it.
    std::string open(const std::string& host, std::uint16_t port, bool tls);
    // Over TLS once handshake() worked, else in the clear.
    std::string exchange(HttpRequest& request, HttpResponse& response);
    // The time each step after this one is given.
    void set_timeout(std::chrono::milliseconds timeout) { timeout_ = timeout; }
    // A Kerberos message to a KDC over TCP, and its reply (RFC 4120 7.2.2: each framed by its
    // four-byte length).
    struct KerberosOutcome {
        std::string problem;  // "" when the reply came
        bool silent = false;  // the KDC took the request and sent nothing within the timeout
    };
    KerberosOutcome kerberos_exchange(std::string_view request, std::string& reply);

    // After a handshake: the server's certificate (owned by the connection).
    X509* peer_certificate();

private:
    template <class Start>
    boost::system::error_code run(Start start);

    std::chrono::milliseconds timeout_;
    boost::asio::io_context io_;
    boost::asio::ssl::context ssl_;
    boost::asio::ssl::stream<boost::asio::ip::tcp::socket> stream_;
    bool tls_ = false;
    std::string ca_error_;  // ca_file could not be loaded
};

}  // namespace easgate::doctor
