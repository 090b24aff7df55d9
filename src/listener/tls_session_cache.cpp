#include "tls_session_cache.hpp"

#include <openssl/tls1.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>
#include <memory>
#include <vector>

namespace easgate::listener {
namespace {

// With stateful tickets (SSL_OP_NO_TICKET) a TLS 1.3 ticket is the session's id.
using SessionId = std::array<unsigned char, SSL_MAX_SSL_SESSION_ID_LENGTH>;
using OfferedSessions = std::vector<SessionId>;

void free_offered(void*, void* offered, CRYPTO_EX_DATA*, int, long, void*) {
    delete static_cast<OfferedSessions*>(offered);
}

int offered_index() {
    static const int index = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, free_offered);
    return index;
}

std::uint32_t read_number(const unsigned char*& at, const unsigned char* end, std::size_t bytes) {
    std::uint32_t value = 0;
    for (std::size_t i = 0; i < bytes && at < end; ++i) value = value << 8 | *at++;
    return value;
}

// The identities of the pre_shared_key extension (RFC 8446 4.2.11) that can be session ids:
// identities<7..2^16-1> of {identity<1..2^16-1>, obfuscated_ticket_age (4 bytes)}. OpenSSL
// checks the extension itself after this callback; a malformed one here is simply not read.
int note_offered_sessions(SSL* ssl, int*, void*) {
    const unsigned char* data = nullptr;
    std::size_t length = 0;
    if (SSL_client_hello_get0_ext(ssl, TLSEXT_TYPE_psk, &data, &length) != 1) return SSL_CLIENT_HELLO_SUCCESS;
    const unsigned char* at = data;
    const unsigned char* const end = data + length;
    if (end - at < 2) return SSL_CLIENT_HELLO_SUCCESS;
    const std::size_t list_length = read_number(at, end, 2);
    if (list_length > static_cast<std::size_t>(end - at)) return SSL_CLIENT_HELLO_SUCCESS;
    const unsigned char* const list_end = at + list_length;
    auto offered = std::make_unique<OfferedSessions>();
    while (list_end - at >= 2) {
        const std::size_t id_length = read_number(at, list_end, 2);
        if (id_length + 4 > static_cast<std::size_t>(list_end - at)) break;
        if (id_length == SessionId().size()) std::copy_n(at, id_length, offered->emplace_back().begin());
        at += id_length + 4;
    }
    if (!offered->empty() && SSL_set_ex_data(ssl, offered_index(), offered.get()) == 1) offered.release();
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
    SSL_CTX_set_client_hello_cb(ctx, note_offered_sessions, nullptr);
}

void forget_offered_sessions(SSL* ssl) {
    auto* offered = static_cast<OfferedSessions*>(SSL_get_ex_data(ssl, offered_index()));
    if (offered == nullptr) return;
    SSL_CTX* ctx = SSL_get_SSL_CTX(ssl);
    for (const SessionId& id : *offered) {
        SSL_SESSION* key = SSL_SESSION_new();
        if (key == nullptr) return;
        // The cache finds a session by protocol version and id; the key itself was never cached.
        if (SSL_SESSION_set_protocol_version(key, SSL_version(ssl)) == 1 &&
            SSL_SESSION_set1_id(key, id.data(), static_cast<unsigned>(id.size())) == 1)
            SSL_CTX_remove_session(ctx, key);
        SSL_SESSION_free(key);
    }
    offered->clear();
}

}  // namespace easgate::listener
