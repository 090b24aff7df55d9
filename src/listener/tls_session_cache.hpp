#pragma once

#include <openssl/ssl.h>

#include <array>
#include <optional>
#include <span>

#include "easgate/config/config.hpp"

// Device TLS sessions kept by a listener for resumption: how many, how long, and one per phone.
namespace easgate::listener {

// Keeps up to listener.tls_session_cache_size sessions for tls_session_lifetime (none at 0), and
// notes the TLS 1.3 session each device offers, for forget_offered_sessions.
void keep_device_sessions(SSL_CTX* ctx, const config::ListenerConfig& listener);

// After a resumed handshake: drops the TLS 1.3 session the device offered from the cache. The
// handshake gave the device a new session, so each phone holds one cached session, not one per
// reconnection until the lifetime ends (RFC 8446 8.1: tickets used once).
void forget_offered_sessions(SSL* ssl);

// With stateful tickets (SSL_OP_NO_TICKET) a TLS 1.3 ticket is the session's id.
using SessionId = std::array<unsigned char, SSL_MAX_SSL_SESSION_ID_LENGTH>;

// The session a ClientHello's pre_shared_key extension (RFC 8446 4.2.11) offers, when it offers
// exactly one identity of a session id's size; nullopt for anything else (several identities: the
// one resumed is not known, and a device must not make easgate drop sessions it did not use). The
// bytes are the device's: every length is checked; OpenSSL checks the extension itself later.
std::optional<SessionId> offered_session_id(std::span<const unsigned char> extension);

}  // namespace easgate::listener
