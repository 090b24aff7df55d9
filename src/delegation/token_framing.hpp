#pragma once

#include "der.hpp"

namespace easgate::delegation {

// Each wraps everything `out` holds, so that a token is written once, back to front, into one
// buffer, and its base64 read from there.

// The Kerberos initial context token around a DER AP-REQ: RFC 2743 3.1 framing, the krb5 mechanism
// OID and RFC 4121 4.1's TOK_ID 01 00, as MIT's initiator frames it.
void frame_krb5_ap_req(der::BackwardWriter& out);

// wrap_in_spnego (easgate/delegation/spnego.hpp) in place.
void wrap_in_spnego(der::BackwardWriter& out);

}  // namespace easgate::delegation
