// libFuzzer entry point: arbitrary bytes as a device certificate. Besides crashes (ASan/UBSan
// builds), it aborts when a result breaks the contract the TLS path relies on.

#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "easgate/identity/certificate_identity.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const auto result = easgate::identity::extract_identity_from_der({data, size});
    // Exactly one of identity and error, and an identity always names someone.
    if (result.identity.has_value() == !result.error.empty()) std::abort();
    if (result && result.identity->principal_name().empty()) std::abort();
    return 0;
}
