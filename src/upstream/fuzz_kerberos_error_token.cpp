// libFuzzer entry point: the bytes of a Negotiate token in a backend's 401, through the KRB-ERROR
// reader. It aborts when a token read as a KRB-ERROR has a code outside 0..1000 or a service name
// longer than 256 bytes or with a byte no SPN has (it goes to the log and a setspn command), or when
// reading it twice differs.

#include <openssl/evp.h>

#include <cctype>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "easgate/upstream/kerberos_error_token.hpp"

namespace {

void check(bool invariant) {
    if (!invariant) std::abort();
}

bool plain_spn(const std::string& name) {
    for (const char c : name)
        if (!std::isalnum(static_cast<unsigned char>(c)) &&
            std::string_view("./-_$@:").find(c) == std::string_view::npos)
            return false;
    return name.size() <= 256;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size > 8192) return 0;
    std::string challenge = "Negotiate ";
    std::string encoded(4 * ((size + 2) / 3) + 1, '\0');
    const int length =
        EVP_EncodeBlock(reinterpret_cast<unsigned char*>(encoded.data()), data, static_cast<int>(size));
    challenge.append(encoded.data(), static_cast<std::size_t>(length));
    const auto error = easgate::upstream::kerberos_error_in({challenge});
    if (!error) return 0;
    check(error->code >= 0 && error->code <= 1000);
    check(plain_spn(error->service));
    const auto again = easgate::upstream::kerberos_error_in({challenge});
    check(again && again->code == error->code && again->service == error->service);
    return 0;
}
