#pragma once

#include <string>
#include <string_view>

namespace easgate::delegation {

// Wraps a Kerberos initial context token (RFC 4121, "60 .. 06 09 2a864886f712010202 ..") in an
// RFC 4178 SPNEGO NegTokenInit that offers only Kerberos and carries it as the optimistic token:
// what IIS/Exchange expect after "Negotiate", byte for byte what MIT's own SPNEGO would send.
// easgate wraps by hand because through MIT's SPNEGO mechanism the KDC's error codes arrive remapped
// (opaque), and they are what tells the operator what to fix.
std::string wrap_in_spnego(std::string_view kerberos_token);

}  // namespace easgate::delegation
