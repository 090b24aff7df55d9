#include "tls_session_cache.hpp"

#include <openssl/tls1.h>

#include <algorithm>
#include <chrono>
#include <memory>

namespace easgate::listener {
namespace {

void free_offered(void*, void* offered, CRYPTO_EX_DATA*, int, long, void*) {
    delete static_cast<SessionId*>(offered);
}

int offered_index() {
    static const int index = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, free_offered);
    return index;
}

// The ClientHello callback: the session the device offers, for forget_offered_sessions.
int note_offered_session(SSL* ssl, int*, void*) {
    // Called again after a HelloRetryRequest: the second ClientHello is the one that counts.
    delete static_cast<SessionId*>(SSL_get_ex_data(ssl, offered_index()));
    SSL_set_ex_data(ssl, offered_index(), nullptr);
    const unsigned char* data = nullptr;
    std::size_t length = 0;
    if (SSL_client_hello_get0_ext(ssl, TLSEXT_TYPE_psk, &data, &length) != 1) return SSL_CLIENT_HELLO_SUCCESS;
    if (auto id = offered_session_id({data, length})) {
        auto offered = std::make_unique<SessionId>(*id);
        if (SSL_set_ex_data(ssl, offered_index(), offered.get()) == 1) offered.release();
    }
    return SSL_CLIENT_HELLO_SUCCESS;
}

}  // namespace

void keep_device_sessions(SSL_CTX* ctx, const config::ListenerConfig& listener) {
    if (listener.tls_session_cache_size == 0) {
        SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
        SSL_CTX_set_num_tickets(ctx, 0);  // a ticket would name a session that is not kept
        return;
    }
    SSL_CTX_sess_set_cache_size(ctx, listener.tls_session_cache_size);
    SSL_CTX_set_timeout(
        ctx, static_cast<long>(
                 std::chrono::duration_cast<std::chrono::seconds>(listener.tls_session_lifetime).count()));
    SSL_CTX_set_num_tickets(ctx, 1);
    SSL_CTX_set_client_hello_cb(ctx, note_offered_session, nullptr);
}

std::optional<SessionId> offered_session_id(std::span<const unsigned char> extension) {
    // OfferedPsks: identities<7..2^16-1> of {identity<1..2^16-1>, obfuscated_ticket_age (4 bytes)},
    // then the binders.
    const auto number = [&](std::size_t at) { return std::size_t{extension[at]} << 8 | extension[at + 1]; };
    if (extension.size() < 4) return std::nullopt;
    const std::size_t identities = number(0);
    const std::size_t id_length = number(2);
    // One identity (what phones send), and a session id: 2 + 32 + 4 bytes.
    if (identities != 2 + id_length + 4 || id_length != SessionId().size() ||
        extension.size() < 2 + identities)
        return std::nullopt;
    SessionId id;
    std::copy_n(extension.begin() + 4, id.size(), id.begin());
    return id;
}

void forget_offered_sessions(SSL* ssl) {
    const auto* offered = static_cast<const SessionId*>(SSL_get_ex_data(ssl, offered_index()));
    if (offered == nullptr) return;
    SSL_SESSION* key = SSL_SESSION_new();
    if (key == nullptr) return;
    // The cache finds a session by protocol version and id; the key itself was never cached.
    if (SSL_SESSION_set_protocol_version(key, SSL_version(ssl)) == 1 &&
        SSL_SESSION_set1_id(key, offered->data(), static_cast<unsigned>(offered->size())) == 1)
        SSL_CTX_remove_session(SSL_get_SSL_CTX(ssl), key);
    SSL_SESSION_free(key);
}

}  // namespace easgate::listener
