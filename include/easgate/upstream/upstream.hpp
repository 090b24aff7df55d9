#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <chrono>
#include <optional>
#include <string>
#include <variant>

#include "easgate/config/config.hpp"

namespace easgate::upstream {

namespace beast = boost::beast;

// A configured upstream (an Exchange server or CAS array name) and how to reach it over TLS.
class Upstream {
public:
    // Throws config::ConfigError naming key_prefix ("upstreams[0]") when ca_file is unusable.
    Upstream(const config::UpstreamConfig& config, const std::string& key_prefix);

    const std::string& name() const { return config_.name; }
    const UpstreamTarget& server() const { return config_.servers.front(); }  // pooling: issue 4
    boost::asio::ssl::context& tls_context() { return tls_; }
    config::UpstreamAuthentication authentication() const { return config_.authenticate; }

private:
    config::UpstreamConfig config_;
    boost::asio::ssl::context tls_;
};

// Why an upstream exchange failed, worded for the operator, and what the device is told.
struct UpstreamFailure {
    unsigned status;  // 502 unreachable or broken, 504 timed out
    std::string reason;
};

// One connection to one upstream server, plain or TLS; kept alive across a device's requests.
class UpstreamConnection {
public:
    using PlainStream = beast::tcp_stream;
    using TlsStream = beast::ssl_stream<beast::tcp_stream>;

    explicit UpstreamConnection(boost::asio::any_io_executor executor) : executor_(std::move(executor)) {}

    // Resolves, connects and, for https, handshakes verifying the certificate and host name.
    boost::asio::awaitable<std::optional<UpstreamFailure>> open(Upstream& upstream,
                                                                std::chrono::milliseconds timeout);

    // False once closed, or when the server closed its end while the connection sat idle.
    bool reusable();
    void close();

    beast::tcp_stream& tcp();
    beast::flat_buffer& buffer() { return buffer_; }
    const UpstreamTarget& target() const { return *target_; }

    // Calls f with the PlainStream or TlsStream.
    template <class F>
    decltype(auto) visit(F&& f) {
        return std::visit(std::forward<F>(f), *stream_);
    }

private:
    boost::asio::any_io_executor executor_;
    std::optional<std::variant<PlainStream, TlsStream>> stream_;
    beast::flat_buffer buffer_;
    const UpstreamTarget* target_ = nullptr;
};

}  // namespace easgate::upstream
