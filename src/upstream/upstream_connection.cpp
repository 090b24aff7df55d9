#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "easgate/common/resolve.hpp"
#include "easgate/common/resource_shortage.hpp"
#include "easgate/common/tcp_keepalive.hpp"
#include "easgate/common/use_nothrow.hpp"
#include "easgate/config/units.hpp"
#include "easgate/upstream/channel_binding.hpp"
#include "easgate/upstream/upstream.hpp"

namespace easgate::upstream {
namespace {

namespace asio = boost::asio;
using easgate::common::use_nothrow;

UpstreamFailure failure(const std::string& url, const std::string& what, const boost::system::error_code& ec,
                        std::chrono::milliseconds timeout) {
    auto shortage = common::resource_shortage(ec);
    if (!shortage && ec != beast::error::timeout) shortage = common::descriptor_shortage();
    if (shortage) return {503, "can't open a connection to upstream " + url + ": " + *shortage, true};
    if (ec == beast::error::timeout) {
        return {502, "upstream " + url + " unreachable: " + what + " timed out after " +
                         config::format_duration(timeout)};
    }
    return {502, "upstream " + url + " unreachable: " + what + " failed: " + ec.message()};
}

}  // namespace

beast::tcp_stream& UpstreamConnection::tcp() {
    return visit([](auto& stream) -> beast::tcp_stream& { return beast::get_lowest_layer(stream); });
}

// Each address in turn, each with an even share of what is left of the deadline (the last, all of
// it), but at least 2 s, or half of what is left when that is less (a SYN lost once is sent again
// after 1 s): one whose packets are dropped must not use up the time of the ones after it.
asio::awaitable<boost::system::error_code> UpstreamConnection::connect_in_turn(
    Upstream& upstream, std::size_t server, const AddressBook::Addresses& addresses,
    std::chrono::steady_clock::time_point deadline) {
    using std::chrono::milliseconds;
    boost::system::error_code ec = asio::error::host_not_found;
    for (std::size_t i = 0; i < addresses.size(); ++i) {
        const auto left = std::chrono::ceil<milliseconds>(deadline - std::chrono::steady_clock::now());
        if (left <= milliseconds::zero()) co_return beast::error::timeout;
        const auto share = std::max(left / static_cast<std::int64_t>(addresses.size() - i),
                                    std::min(left / 2, milliseconds(2000)));
        tcp().expires_after(share);
        std::tie(ec) = co_await tcp().async_connect(addresses[i], use_nothrow);
        // easgate's own shortage (descriptors, buffers) says nothing of the address.
        if (ec && (common::resource_shortage(ec) || ec == asio::error::operation_aborted)) co_return ec;
        const auto news = upstream.addresses().connected(server, addresses[i], !ec);
        if (news == AddressBook::News::failing && i + 1 < addresses.size()) {
            spdlog::warn(
                "upstream {}: connecting to {} ({}) {}; trying its other addresses, and this one "
                "only after them until it connects again (in its turn again after {}, then less "
                "often while it fails)",
                upstream.name(), to_text(addresses[i]), target_->host,
                ec == beast::error::timeout
                    ? "got no answer within " +
                          config::format_duration(std::chrono::round<std::chrono::seconds>(share))
                    : "failed: " + ec.message(),
                config::format_duration(upstream.addresses().set_aside_for()));
        } else if (news == AddressBook::News::connects_again) {
            spdlog::info("upstream {}: connecting to {} ({}) works again", upstream.name(),
                         to_text(addresses[i]), target_->host);
        }
        if (!ec) break;
        tcp().close();
    }
    tcp().expires_at(deadline);
    co_return ec;
}

asio::awaitable<std::optional<UpstreamFailure>> UpstreamConnection::open(Upstream& upstream,
                                                                         std::size_t server,
                                                                         std::chrono::milliseconds timeout) {
    close();
    const config::UpstreamTarget& target = upstream.server(server);
    target_ = &target;
    server_ = server;
    channel_binding_.clear();

    // One deadline for the name lookup, the connect and the TLS handshake together. The lookup is
    // the address book's, unless none has worked yet.
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    auto addresses = upstream.addresses().find(server);
    if (addresses.empty()) {
        auto [resolve_ec, found] =
            co_await common::resolve_before(target.host, std::to_string(target.port), deadline);
        if (resolve_ec) {
            auto failed = failure(target.url, "resolving " + target.host, resolve_ec, timeout);
            failed.reason += std::string(". ") + lookup_remedy;
            co_return failed;
        }
        for (const auto& entry : found) addresses.push_back(entry.endpoint());
        upstream.addresses().store(server, addresses);
    }

    if (target.tls) {
        stream_ = std::make_unique<Stream>(std::in_place_type<TlsStream>, executor_, upstream.tls_context());
    } else {
        stream_ = std::make_unique<Stream>(std::in_place_type<PlainStream>, executor_);
    }
    if (const auto connect_ec = co_await connect_in_turn(upstream, server, addresses, deadline)) {
        close();
        co_return failure(target.url, "connecting", connect_ec, timeout);
    }
    boost::system::error_code unset;  // a socket without them still works: not worth failing for
    common::keep_probing(tcp().socket(), unset);
    tcp().socket().set_option(asio::ip::tcp::no_delay(true));
    if (!target.tls) co_return std::nullopt;

    auto& tls = std::get<TlsStream>(*stream_);
    SSL* ssl = tls.native_handle();
    // The certificate must name the host: an iPAddress entry for an address, else a dNSName.
    boost::system::error_code not_an_address;
    asio::ip::make_address(target.host, not_an_address);
    if (not_an_address) {
        SSL_set_tlsext_host_name(ssl, target.host.c_str());  // SNI carries names only
        SSL_set1_host(ssl, target.host.c_str());
    } else {
        X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), target.host.c_str());
    }
    upstream.offer_tls_session(ssl, server);
    auto [handshake_ec] = co_await tls.async_handshake(asio::ssl::stream_base::client, use_nothrow);
    if (handshake_ec) {
        std::string what = "the TLS handshake";
        const long verify = SSL_get_verify_result(ssl);
        if (verify != X509_V_OK)
            what += " (certificate: " + std::string(X509_verify_cert_error_string(verify)) + ")";
        close();
        co_return failure(target.url, what, handshake_ec, timeout);
    }
    upstream.count_tls_handshake(SSL_session_reused(ssl) == 1);
    if (upstream.binds_channel()) {
        if (X509* certificate = SSL_get0_peer_certificate(ssl))
            channel_binding_ = tls_server_end_point(certificate);
    }
    co_return std::nullopt;
}

bool UpstreamConnection::reusable() {
    if (!stream_ || !tcp().socket().is_open()) return false;
    // Bytes already read past the last response (an unsolicited answer, a body sent to HEAD) would
    // be taken for the next request's answer.
    if (buffer_.size() > 0) return false;
    // In TLS, bytes can also wait as records OpenSSL has read from the socket but not decrypted:
    // invisible to both the peek below and SSL_pending.
    if (auto* tls = std::get_if<TlsStream>(stream_.get()); tls && tls->has_unread_input()) return false;
    // An idle connection has nothing to read; EOF, a stray close_notify or an extra response
    // means the server is done with it.
    char probe;
    const auto n = ::recv(tcp().socket().native_handle(), &probe, 1, MSG_PEEK | MSG_DONTWAIT);
    return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

void UpstreamConnection::close() {
    authenticated_ = false;
    buffer_.clear();
    buffer_.shrink_to_fit();  // its bytes mean nothing any more
    if (!stream_) return;
    // Closed without a close_notify exchange, OpenSSL would mark the session unresumable on free;
    // declaring the shutdown done keeps it for the next connection (nginx does the same).
    if (auto* tls = std::get_if<TlsStream>(stream_.get()); tls && SSL_is_init_finished(tls->native_handle()))
        SSL_set_shutdown(tls->native_handle(), SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
    boost::system::error_code ignored;
    tcp().socket().shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
    tcp().close();
    stream_.reset();
}

}  // namespace easgate::upstream
