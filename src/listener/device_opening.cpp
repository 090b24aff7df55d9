// A device connection's opening: its TLS handshake, within limits.handshake_timeout of the accept,
// and the bound on connections from one source still opening (limits.max_opening_per_address).
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <spdlog/spdlog.h>

#include "downstream_session_internal.hpp"
#include "easgate/common/ip_network.hpp"
#include "easgate/common/use_nothrow.hpp"
#include "easgate/config/units.hpp"

namespace easgate::listener {
namespace {

using easgate::common::use_nothrow;

}  // namespace

asio::awaitable<bool> DownstreamSession::handshake() {
    if (!take_opening_slot(common::source_key(peer_.address()))) co_return false;
    error_code ignored;
    tcp_stream().socket().set_option(tcp::no_delay(true), ignored);
    tcp_stream().socket().set_option(asio::socket_base::keep_alive(true), ignored);
    runtime_->tls->verify_into(stream_.native_handle(), check_);
    tcp_stream().expires_at(handshake_due_);
    auto [ec] = co_await stream_.async_handshake(asio::ssl::stream_base::server, use_nothrow);
    if (ec) {
        log_refused_handshake(ec);
        co_return false;
    }
    const bool resumed = SSL_session_reused(stream_.native_handle()) == 1;
    if (resumed) {
        runtime_->tls->check_resumed(stream_.native_handle(), check_);
        if (!check_.refusal.empty()) {
            log_refused_handshake({});
            co_return false;
        }
    }
    runtime_->sessions->count_handshake(resumed);
    peer_address_ = peer_.address().to_string();
    who_ = peer_text() + " " + user_text();
    co_return true;
}

bool DownstreamSession::take_opening_slot(std::string source) {
    const auto max = limits_.max_opening_per_address;
    if (runtime_->sessions->take_opening_slot(source, max)) {
        opening_slot_ = std::move(source);
        return true;
    }
    const std::string reason = "limits.max_opening_per_address (" + std::to_string(max) + ") reached";
    const long suppressed = runtime_->refusal_log->admit(reason);
    if (suppressed < 0) return false;
    spdlog::warn(
        "closed the connection from {} before TLS: {}: that many connections from {} are opening "
        "(in their TLS handshake or before their first request): connections that never get that "
        "far, or a load balancer or NAT in front (have it send the PROXY protocol, "
        "listeners[].proxy_protocol, or raise the limit; 0 turns it off){}",
        peer_text(), reason, source, common::suppressed_note(suppressed));
    return false;
}

void DownstreamSession::give_opening_slot() {
    if (opening_slot_.empty()) return;
    runtime_->sessions->give_opening_slot(opening_slot_);
    opening_slot_.clear();
}

void DownstreamSession::log_refused_handshake(const error_code& ec) {
    if (reclaimed_) {  // the listener logged it
        spdlog::debug("device {}: closed in its TLS handshake to make room at limits.max_connections",
                      peer_text());
        return;
    }
    if (check_.refusal.empty() && ec == beast::error::timeout) {
        spdlog::debug("device {} did not finish its TLS handshake within limits.handshake_timeout ({})",
                      peer_text(), config::format_duration(limits_.handshake_timeout));
        return;
    }
    if (check_.refusal.empty() && is_disconnect(ec)) {
        spdlog::debug("device {} left during the TLS handshake: {}", peer_text(), ec.message());
        return;
    }
    if (!check_.refusal.empty()) {
        runtime_->sessions->count_certificate_refusal(certificate_refusal_cause(check_.verify_error));
    } else if (ec.category() == asio::error::get_ssl_category() &&
               ERR_GET_REASON(static_cast<unsigned long>(ec.value())) ==
                   SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE) {
        runtime_->sessions->count_certificate_refusal("no_certificate");
    }
    const std::string reason = check_.refusal.empty() ? ec.message() : check_.refusal;
    const long suppressed = runtime_->refusal_log->admit(reason);
    if (suppressed < 0) return;
    const std::string more = common::suppressed_note(suppressed);
    if (check_.refusal.empty()) {
        spdlog::warn("refused TLS handshake from {}: {}{}", peer_text(), reason, more);
    } else {
        spdlog::warn("refused device certificate from {}: {}: {}{}", peer_text(), reason,
                     check_.refused_certificate, more);
    }
}

}  // namespace easgate::listener
