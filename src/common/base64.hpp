#pragma once

#include <string>
#include <string_view>

// The encoders behind common::base64_encode, named so that a test can run each one.
namespace easgate::common {

enum class Base64Kernel {
    portable,  // six bytes per step through a table of character pairs
    ssse3,     // twelve bytes per step in SSE registers (x86-64 CPUs with SSSE3: all since about 2008)
};

// Whether this build and this CPU can run the kernel (portable: always).
bool base64_kernel_available(Base64Kernel kernel);
// Padded RFC 4648 base64; the kernel must be available.
std::string base64_encode_with(std::string_view bytes, Base64Kernel kernel);

}  // namespace easgate::common
