#include "authenticator_cipher.hpp"

#include <openssl/core_names.h>
#include <openssl/crypto.h>

#include <algorithm>
#include <numeric>
#include <utility>

#include "token_random.hpp"

namespace easgate::delegation {
namespace {

constexpr std::size_t block = 16;       // AES's, also the confounder's length
constexpr std::size_t mac_length = 12;  // HMAC-SHA1-96
constexpr std::size_t sha1_block = 64;

bool is_aes_sha1(krb5_enctype enctype) {
    return enctype == ENCTYPE_AES128_CTS_HMAC_SHA1_96 || enctype == ENCTYPE_AES256_CTS_HMAC_SHA1_96;
}

// Fetched once: OpenSSL 3 looks an algorithm up again each time it is named.
const EVP_CIPHER* fetched_cipher(const char* name) { return EVP_CIPHER_fetch(nullptr, name, nullptr); }
const EVP_MD* sha1() {
    static const EVP_MD* const fetched = EVP_MD_fetch(nullptr, "SHA1", nullptr);
    return fetched;
}

// The work contexts of this thread, reused for every token.
struct ThreadContexts {
    EVP_CIPHER_CTX* cipher = EVP_CIPHER_CTX_new();
    EVP_MD_CTX* digest = EVP_MD_CTX_new();

    ThreadContexts() = default;
    ThreadContexts(const ThreadContexts&) = delete;
    ThreadContexts& operator=(const ThreadContexts&) = delete;
    ~ThreadContexts() {
        EVP_CIPHER_CTX_free(cipher);
        EVP_MD_CTX_free(digest);
    }
};

ThreadContexts& thread_contexts() {
    thread_local ThreadContexts contexts;
    return contexts;
}

// Wipes a buffer holding key material when it goes.
struct Wiped {
    std::string bytes;
    explicit Wiped(std::size_t size) : bytes(size, '\0') {}
    Wiped(const Wiped&) = delete;
    Wiped& operator=(const Wiped&) = delete;
    ~Wiped() { OPENSSL_cleanse(bytes.data(), bytes.size()); }
    unsigned char* data() { return reinterpret_cast<unsigned char*>(bytes.data()); }
};

}  // namespace

// MIT's krb5int_nfold, in bytes: out is the sum (with end-around carry) of copies of in, each
// rotated 13 bits right from the one before, over lcm(in, out) bytes.
void n_fold(std::string_view in, std::span<unsigned char> out) {
    const std::size_t in_bytes = in.size(), out_bytes = out.size();
    const std::size_t lcm = std::lcm(in_bytes, out_bytes);
    const auto at = [&](std::size_t index) { return static_cast<unsigned char>(in[index % in_bytes]); };
    std::fill(out.begin(), out.end(), 0);
    unsigned carry = 0;
    for (std::size_t i = lcm; i-- > 0;) {
        const std::size_t msbit = ((in_bytes << 3) - 1 + ((in_bytes << 3) + 13) * (i / in_bytes) +
                                   ((in_bytes - i % in_bytes) << 3)) %
                                  (in_bytes << 3);
        carry += ((at(in_bytes - 1 - (msbit >> 3)) << 8 | at(in_bytes - (msbit >> 3))) >> ((msbit & 7) + 1)) &
                 0xff;
        carry += out[i % out_bytes];
        out[i % out_bytes] = static_cast<unsigned char>(carry);
        carry >>= 8;
    }
    for (std::size_t i = out_bytes; carry != 0 && i-- > 0;) {
        carry += out[i];
        out[i] = static_cast<unsigned char>(carry);
        carry >>= 8;
    }
}

std::unique_ptr<AuthenticatorCipher> AuthenticatorCipher::make(krb5_context context,
                                                               const krb5_keyblock& session_key,
                                                               krb5_error_code& error) {
    std::unique_ptr<AuthenticatorCipher> cipher(new AuthenticatorCipher);
    error = 0;
    if (is_aes_sha1(session_key.enctype) && cipher->derive_aes_sha1_keys(session_key) == 0) return cipher;
    // MIT's way, also when OpenSSL lacks an algorithm (a restricted provider): a fresh object, so
    // that nothing of a half-made OpenSSL setup is used.
    cipher.reset(new AuthenticatorCipher);
    error = krb5_k_create_key(context, &session_key, &cipher->key_);
    // The first encryption derives the usage's keys and caches them in the key; done here, before
    // other threads share it, since that cache is not locked.
    std::string ignored;
    if (error == 0) error = cipher->encrypt(context, "", ignored);
    if (error != 0) return nullptr;
    return cipher;
}

AuthenticatorCipher::~AuthenticatorCipher() {
    if (key_ != nullptr) krb5_k_free_key(nullptr, key_);
    EVP_MD_CTX_free(hmac_inner_);
    EVP_MD_CTX_free(hmac_outer_);
    OPENSSL_cleanse(encryption_key_.data(), encryption_key_.size());
}

// DK(key, usage | 0xAA) and DK(key, usage | 0x55): n-fold the constant to a block, then encrypt it
// again and again under the session key (one block: CBC with a zero IV is ECB) for as many bytes
// as a key has. AES's random-to-key is the identity.
krb5_error_code AuthenticatorCipher::derive_aes_sha1_keys(const krb5_keyblock& session_key) {
    const bool aes256 = session_key.enctype == ENCTYPE_AES256_CTS_HMAC_SHA1_96;
    static const EVP_CIPHER* const ecb128 = fetched_cipher("AES-128-ECB");
    static const EVP_CIPHER* const ecb256 = fetched_cipher("AES-256-ECB");
    static const EVP_CIPHER* const cts128 = fetched_cipher("AES-128-CBC-CTS");
    static const EVP_CIPHER* const cts256 = fetched_cipher("AES-256-CBC-CTS");
    const EVP_CIPHER* ecb = aes256 ? ecb256 : ecb128;
    cts_ = aes256 ? cts256 : cts128;
    const std::size_t key_length = aes256 ? 32 : 16;
    if (ecb == nullptr || cts_ == nullptr || sha1() == nullptr) return KRB5_CRYPTO_INTERNAL;
    if (session_key.length != key_length) return KRB5_BAD_KEYSIZE;
    const auto derive = [&](unsigned char which, unsigned char* key) {
        const char constant[5] = {0, 0, 0, KRB5_KEYUSAGE_AP_REQ_AUTH, static_cast<char>(which)};
        std::array<unsigned char, block> folded{};
        n_fold({constant, sizeof constant}, folded);
        EVP_CIPHER_CTX* context = thread_contexts().cipher;
        int written = 0;
        bool ok = EVP_EncryptInit_ex2(context, ecb, session_key.contents, nullptr, nullptr) == 1 &&
                  EVP_CIPHER_CTX_set_padding(context, 0) == 1;
        for (std::size_t done = 0; ok && done < key_length; done += block) {
            ok = EVP_EncryptUpdate(context, key + done, &written,
                                   done == 0 ? folded.data() : key + done - block, block) == 1;
        }
        OPENSSL_cleanse(folded.data(), folded.size());
        return ok;
    };
    Wiped integrity_key(sha1_block);
    if (!derive(0xaa, encryption_key_.data()) || !derive(0x55, integrity_key.data()))
        return KRB5_CRYPTO_INTERNAL;
    Wiped pad(sha1_block);
    hmac_inner_ = EVP_MD_CTX_new();
    hmac_outer_ = EVP_MD_CTX_new();
    for (auto [state, mask] : {std::pair{hmac_inner_, 0x36}, std::pair{hmac_outer_, 0x5c}}) {
        for (std::size_t i = 0; i < sha1_block; ++i) pad.data()[i] = integrity_key.data()[i] ^ mask;
        if (state == nullptr || EVP_DigestInit_ex2(state, sha1(), nullptr) != 1 ||
            EVP_DigestUpdate(state, pad.data(), sha1_block) != 1)
            return KRB5_CRYPTO_INTERNAL;
    }
    return 0;
}

krb5_error_code AuthenticatorCipher::encrypt(krb5_context context, std::string_view authenticator,
                                             std::string& encrypted) const {
    if (hmac_inner_ != nullptr) return encrypt_aes_sha1(authenticator, encrypted);
    std::size_t length = 0;
    krb5_error_code error =
        krb5_c_encrypt_length(context, krb5_k_key_enctype(context, key_), authenticator.size(), &length);
    if (error != 0) return error;
    encrypted.resize(length);
    const krb5_data plain{KV5M_DATA, static_cast<unsigned int>(authenticator.size()),
                          const_cast<char*>(authenticator.data())};
    krb5_enc_data out{};
    out.ciphertext = {KV5M_DATA, static_cast<unsigned int>(length), encrypted.data()};
    error = krb5_k_encrypt(context, key_, KRB5_KEYUSAGE_AP_REQ_AUTH, nullptr, &plain, &out);
    if (error == 0) encrypted.resize(out.ciphertext.length);
    return error;
}

// RFC 3962: a random confounder block before the plaintext; that, encrypted with AES in CBC mode
// with ciphertext stealing (the last two blocks always swapped: OpenSSL's CS3) from a zero IV, then
// the first 12 bytes of its HMAC-SHA1.
krb5_error_code AuthenticatorCipher::encrypt_aes_sha1(std::string_view authenticator,
                                                      std::string& encrypted) const {
    Wiped plain(block + authenticator.size());
    if (!token_random({plain.data(), block})) return KRB5_CRYPTO_INTERNAL;
    authenticator.copy(plain.bytes.data() + block, authenticator.size());
    const int length = static_cast<int>(plain.bytes.size());
    encrypted.resize(plain.bytes.size() + mac_length);
    auto* out = reinterpret_cast<unsigned char*>(encrypted.data());
    ThreadContexts& thread = thread_contexts();
    static const std::array<unsigned char, block> zero_iv{};
    OSSL_PARAM cs3[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_CIPHER_PARAM_CTS_MODE, const_cast<char*>("CS3"), 0),
        OSSL_PARAM_construct_end()};
    int written = 0, last = 0;
    std::array<unsigned char, EVP_MAX_MD_SIZE> inner{}, mac{};
    unsigned int inner_length = 0, mac_written = 0;
    const bool ok =
        EVP_EncryptInit_ex2(thread.cipher, cts_, encryption_key_.data(), zero_iv.data(), cs3) == 1 &&
        EVP_EncryptUpdate(thread.cipher, out, &written, plain.data(), length) == 1 &&
        EVP_EncryptFinal_ex(thread.cipher, out + written, &last) == 1 && written + last == length &&
        EVP_MD_CTX_copy_ex(thread.digest, hmac_inner_) == 1 &&
        EVP_DigestUpdate(thread.digest, plain.data(), plain.bytes.size()) == 1 &&
        EVP_DigestFinal_ex(thread.digest, inner.data(), &inner_length) == 1 &&
        EVP_MD_CTX_copy_ex(thread.digest, hmac_outer_) == 1 &&
        EVP_DigestUpdate(thread.digest, inner.data(), inner_length) == 1 &&
        EVP_DigestFinal_ex(thread.digest, mac.data(), &mac_written) == 1;
    if (!ok) return KRB5_CRYPTO_INTERNAL;
    std::copy_n(mac.begin(), mac_length, out + length);
    return 0;
}

}  // namespace easgate::delegation
