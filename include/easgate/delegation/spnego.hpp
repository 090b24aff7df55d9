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

// The RFC 4121 4.1.1 authenticator checksum (type 0x8003) of a one-leg token without delegation:
// the MD5 of the channel bindings as MIT's kg_checksum_channel_bindings lays them out (unspecified
// addresses, channel_binding as application data; 16 zero bytes if it is empty) and the flags MIT's
// initiator sends for req_flags 0 (CONF | INTEG | TRANS). The acceptor (IIS, MIT) compares the hash.
std::string gss_authenticator_checksum(std::string_view channel_binding);

}  // namespace easgate::delegation
