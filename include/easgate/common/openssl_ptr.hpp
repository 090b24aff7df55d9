#pragma once

// unique_ptr for OpenSSL objects: OpenSslPtr<X509, X509_free>, freed by the function OpenSSL names.

#include <openssl/crypto.h>

#include <memory>

namespace easgate::common {

template <auto free_function>
struct OpenSslDeleter {
    template <typename T>
    void operator()(T* object) const {
        free_function(object);
    }
};

template <typename T, auto free_function>
using OpenSslPtr = std::unique_ptr<T, OpenSslDeleter<free_function>>;

struct OpenSslStringDeleter {
    void operator()(char* text) const { OPENSSL_free(text); }
};
using OpenSslString = std::unique_ptr<char, OpenSslStringDeleter>;

}  // namespace easgate::common
