#pragma once

#include <openssl/x509.h>

#include <string>

namespace easgate::upstream {

// RFC 5929 tls-server-end-point, the channel binding of Extended Protection for Authentication:
// "tls-server-end-point:" followed by the hash of the server certificate's DER, made with the
// certificate's own signature hash (SHA-256 in place of MD5 and SHA-1). Empty when the signature
// names no single hash (Ed25519): such a certificate can't be bound.
std::string tls_server_end_point(X509* certificate);

}  // namespace easgate::upstream
