#pragma once

#include <openssl/ssl.h>

#include "easgate/config/config.hpp"

// Device TLS sessions kept by a listener for resumption: how many, how long, and one per phone.
namespace easgate::listener {

// Keeps up to listener.tls_session_cache_size sessions for tls_session_lifetime (none at 0), and
// notes the TLS 1.3 sessions each device offers, for forget_offered_sessions.
void keep_device_sessions(SSL_CTX* ctx, const config::ListenerConfig& listener);

// After a resumed handshake: drops the TLS 1.3 sessions the device offered from the cache. The
// handshake gave the device a new session, so each phone holds one cached session, not one per
// reconnection until the lifetime ends (RFC 8446 8.1: tickets used once).
void forget_offered_sessions(SSL* ssl);

}  // namespace easgate::listener
