#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <boost/asio/read.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "downstream_session_internal.hpp"
#include "easgate/common/use_nothrow.hpp"
#include "easgate/config/units.hpp"

namespace easgate::listener {
namespace {

using easgate::common::use_nothrow;
using Status = ProxyHeaderParse::Status;

ProxyHeaderParse refusal(std::string_view cause, std::string reason) {
    return {Status::refused, 0, std::nullopt, cause, std::move(reason)};
}

}  // namespace

// Before anything is read: only a trusted proxy may name the device, anyone else could pose as
// any address policy source_networks allows. LOCAL and UNKNOWN headers (health checks) keep the
// proxy's own address.
asio::awaitable<bool> DownstreamSession::take_proxy_header() {
    if (!runtime_->proxy_protocol) co_return true;
    const auto& trusted = runtime_->trusted_proxies;
    if (std::ranges::none_of(trusted, [this](const auto& n) { return n.contains(peer_.address()); })) {
        refuse_proxied("untrusted_source", "not in trusted_proxies");
        co_return false;
    }
    const auto header = co_await read_proxy_header();
    if (header.status != Status::parsed) {
        refuse_proxied(header.cause, header.reason);
        co_return false;
    }
    if (header.source) {
        spdlog::debug("device {} connects through {}", header.source->address().to_string(), peer_text());
        peer_ = *header.source;
    }
    co_return true;
}

// The header and not one byte more, within limits.handshake_timeout: what follows is the device's TLS
// ClientHello, for OpenSSL. Each round peeks at what has arrived and consumes only the header's
// bytes: all of them while the header is incomplete, up to its end once it is complete.
asio::awaitable<ProxyHeaderParse> DownstreamSession::read_proxy_header() {
    auto& socket = tcp_stream().socket();
    asio::steady_timer deadline(socket.get_executor());
    deadline.expires_at(handshake_due_);
    // The timer may fire just as the header is complete: it must not cancel the TLS handshake then.
    auto waiting = std::make_shared<bool>(true);
    deadline.async_wait([self = shared_from_this(), waiting](const error_code& ec) {
        if (!ec && *waiting) self->tcp_stream().socket().cancel();
    });
    std::array<std::uint8_t, proxy_header_max_bytes> bytes;
    std::size_t have = 0;
    ProxyHeaderParse result;
    const auto timed_out = [&deadline] { return deadline.expiry() <= std::chrono::steady_clock::now(); };
    while (result.status == Status::need_more) {
        error_code ec = asio::error::timed_out;
        std::size_t n = 0;
        // The timer may have fired between two reads, when its cancel found none to end.
        if (!timed_out()) {
            std::tie(ec, n) =
                co_await socket.async_receive(asio::buffer(bytes.data() + have, bytes.size() - have),
                                              tcp::socket::message_peek, use_nothrow);
        }
        if (!ec) {
            result = parse_proxy_header({bytes.data(), have + n});
            const std::size_t take = result.status == Status::parsed      ? result.length - have
                                     : result.status == Status::need_more ? n
                                                                          : 0;
            std::tie(ec, n) =
                co_await asio::async_read(socket, asio::buffer(bytes.data() + have, take), use_nothrow);
            have += n;
        }
        if (ec && timed_out())
            result = refusal("timeout", "no complete PROXY header within limits.handshake_timeout (" +
                                            config::format_duration(limits_.handshake_timeout) + ")");
        else if (ec)
            result = refusal("missing", "the connection ended before a complete PROXY header (" +
                                            std::to_string(have) + " bytes): " + ec.message());
    }
    *waiting = false;
    deadline.cancel();
    co_return result;
}

void DownstreamSession::refuse_proxied(std::string_view cause, const std::string& reason) {
    if (reclaimed_) return;  // closed to make room while its header was awaited: the listener said so
    runtime_->sessions->count_proxy_refusal(cause);
    const long suppressed = runtime_->refusal_log->admit("PROXY protocol " + std::string(cause));
    if (suppressed < 0) return;
    spdlog::warn("closed the connection from {} before TLS: PROXY protocol: {}{}", peer_text(), reason,
                 common::suppressed_note(suppressed));
}

}  // namespace easgate::listener
