// The authenticator encryption done with OpenSSL for AD's enctypes, checked by MIT's own decryption;
// the n-fold under it against RFC 3961's vectors.
#include "delegation/authenticator_cipher.hpp"

#include <gtest/gtest.h>

#include <string>

namespace easgate::delegation {
namespace {

std::string hex(std::span<const unsigned char> bytes) {
    static constexpr char digits[] = "0123456789abcdef";
    std::string text;
    for (unsigned char byte : bytes) (text += digits[byte >> 4]) += digits[byte & 15];
    return text;
}

std::string folded(std::string_view in, std::size_t bits) {
    std::vector<unsigned char> out(bits / 8);
    n_fold(in, out);
    return hex(out);
}

TEST(NFold, MatchesRfc3961Vectors) {
    EXPECT_EQ(folded("012345", 64), "be072631276b1955");
    EXPECT_EQ(folded("password", 56), "78a07b6caf85fa");
    EXPECT_EQ(folded("Rough Consensus, and Running Code", 64), "bb6ed30870b7f0e0");
    EXPECT_EQ(folded("password", 168), "59e4a8ca7c0385c3c37b3f6d2000247cb6e6bd5b3e");
    EXPECT_EQ(folded("MASSACHVSETTS INSTITVTE OF TECHNOLOGY", 192),
              "db3b0d8f0b061e603282b308a50841229ad798fab9540c1b");
    EXPECT_EQ(folded("Q", 168), "518a54a215a8452a518a54a215a8452a518a54a215");
    EXPECT_EQ(folded("ba", 168), "fb25d531ae8974499f52fd92ea9857c4ba24cf297e");
    EXPECT_EQ(folded("kerberos", 64), "6b65726265726f73");
    EXPECT_EQ(folded("kerberos", 128), "6b65726265726f737b9b5b2b93132b93");
    EXPECT_EQ(folded("kerberos", 168), "8372c236344e5f1550cd0747e15d62ca7a5a3bcea4");
    EXPECT_EQ(folded("kerberos", 256), "6b65726265726f737b9b5b2b93132b935c9bdcdad95c9899c4cae4dee6d6cae4");
}

class AuthenticatorCipherTest : public ::testing::TestWithParam<krb5_enctype> {
protected:
    void SetUp() override {
        ASSERT_EQ(krb5_init_context(&context_), 0);
        ASSERT_EQ(krb5_c_make_random_key(context_, GetParam(), &key_), 0);
        krb5_error_code error = 0;
        cipher_ = AuthenticatorCipher::make(context_, key_, error);
        ASSERT_EQ(error, 0);
        ASSERT_NE(cipher_, nullptr);
    }
    void TearDown() override {
        cipher_.reset();
        krb5_free_keyblock_contents(context_, &key_);
        krb5_free_context(context_);
    }

    // What MIT's krb5_c_decrypt makes of it under usage: the plaintext, or the error.
    std::pair<krb5_error_code, std::string> mit_decrypt(const std::string& encrypted, krb5_keyusage usage) {
        krb5_enc_data in{};
        in.enctype = key_.enctype;
        in.ciphertext = {KV5M_DATA, static_cast<unsigned int>(encrypted.size()),
                         const_cast<char*>(encrypted.data())};
        std::string plain(encrypted.size(), '\0');
        krb5_data out{KV5M_DATA, static_cast<unsigned int>(plain.size()), plain.data()};
        const krb5_error_code error = krb5_c_decrypt(context_, &key_, usage, nullptr, &in, &out);
        plain.resize(error == 0 ? out.length : 0);
        return {error, plain};
    }

    krb5_context context_ = nullptr;
    krb5_keyblock key_{};
    std::unique_ptr<AuthenticatorCipher> cipher_;
};

// Every length around the block boundaries the ciphertext stealing treats apart, and longer ones.
TEST_P(AuthenticatorCipherTest, MitDecryptsEveryLengthUnderTheAuthenticatorUsageOnly) {
    std::vector<std::size_t> lengths;
    for (std::size_t length = 1; length <= 70; ++length) lengths.push_back(length);
    for (std::size_t length : {127, 128, 129, 190, 1000}) lengths.push_back(length);
    for (std::size_t length : lengths) {
        std::string authenticator(length, '\0');
        for (std::size_t i = 0; i < length; ++i) authenticator[i] = static_cast<char>(i * 7 + length);
        std::string encrypted;
        ASSERT_EQ(cipher_->encrypt(context_, authenticator, encrypted), 0) << length;
        std::size_t expected = 0;
        ASSERT_EQ(krb5_c_encrypt_length(context_, key_.enctype, length, &expected), 0);
        EXPECT_EQ(encrypted.size(), expected) << length;
        const auto [error, plain] = mit_decrypt(encrypted, KRB5_KEYUSAGE_AP_REQ_AUTH);
        EXPECT_EQ(error, 0) << length;
        EXPECT_EQ(plain, authenticator) << length;
        EXPECT_NE(mit_decrypt(encrypted, KRB5_KEYUSAGE_AP_REP_ENCPART).first, 0) << "another usage's keys";
    }
}

TEST_P(AuthenticatorCipherTest, TheSameAuthenticatorEncryptsDifferentlyEachTime) {
    std::string first, second;
    ASSERT_EQ(cipher_->encrypt(context_, "the same authenticator", first), 0);
    ASSERT_EQ(cipher_->encrypt(context_, "the same authenticator", second), 0);
    EXPECT_NE(first, second) << "a fresh confounder each time";
}

// AES with HMAC-SHA1 (done with OpenSSL), RC4 and AES with SHA-2 (MIT's krb5_k_encrypt).
INSTANTIATE_TEST_SUITE_P(Enctypes, AuthenticatorCipherTest,
                         ::testing::Values(ENCTYPE_AES256_CTS_HMAC_SHA1_96, ENCTYPE_AES128_CTS_HMAC_SHA1_96,
                                           ENCTYPE_ARCFOUR_HMAC, ENCTYPE_AES256_CTS_HMAC_SHA384_192));

}  // namespace
}  // namespace easgate::delegation
