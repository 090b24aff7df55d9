#pragma once

#include <krb5/krb5.h>
#include <openssl/evp.h>

#include <array>
#include <memory>
#include <span>
#include <string>
#include <string_view>

namespace easgate::delegation {

// Encrypts a token's authenticator (key usage 11) under a service ticket's session key. The
// aes128/aes256-cts-hmac-sha1-96 enctypes (RFC 3962, the ones AD issues) are done here with
// OpenSSL from the usage's keys, derived once (RFC 3961 5.1): MIT's library has no AES-NI in
// Debian's build and cost about 24,000 instructions a token. Other enctypes (RC4, AES with SHA-2)
// go to krb5_k_encrypt with the derived keys it caches, as do AES-SHA1 keys if OpenSSL lacks an
// algorithm (a restricted provider). Safe on several threads at once.
class AuthenticatorCipher {
public:
    // Null, and why in error, if the key can't be used.
    static std::unique_ptr<AuthenticatorCipher> make(krb5_context context, const krb5_keyblock& session_key,
                                                     krb5_error_code& error);

    AuthenticatorCipher(const AuthenticatorCipher&) = delete;
    AuthenticatorCipher& operator=(const AuthenticatorCipher&) = delete;
    ~AuthenticatorCipher();

    krb5_error_code encrypt(krb5_context context, std::string_view authenticator,
                            std::string& encrypted) const;

private:
    AuthenticatorCipher() = default;

    krb5_error_code derive_aes_sha1_keys(const krb5_keyblock& session_key);
    krb5_error_code encrypt_aes_sha1(std::string_view authenticator, std::string& encrypted) const;

    krb5_key key_ = nullptr;  // MIT's, for the enctypes not done here
    // AES-SHA1: the encryption key Ke and the integrity key Ki's HMAC-SHA1 state with each pad absorbed.
    const EVP_CIPHER* cts_ = nullptr;
    std::array<unsigned char, 32> encryption_key_{};
    EVP_MD_CTX* hmac_inner_ = nullptr;
    EVP_MD_CTX* hmac_outer_ = nullptr;
};

// RFC 3961 5.1's n-fold of in to out.size() bytes (for the derivation constants).
void n_fold(std::string_view in, std::span<unsigned char> out);

}  // namespace easgate::delegation
