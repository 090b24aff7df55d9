#pragma once

#include <krb5/krb5.h>

#include <string>
#include <string_view>

#include "der.hpp"

namespace easgate::delegation {

// The Authenticator (RFC 4120 5.5.1) MIT's GSS initiator sends: the 0x8003 checksum, a subkey and
// a sequence number, no authorization data.
struct AuthenticatorParts {
    krb5_const_principal client;
    std::string_view checksum;  // of type 0x8003 (RFC 4121 4.1.1)
    krb5_timestamp ctime;
    krb5_int32 cusec;
    const krb5_keyblock& subkey;
    krb5_ui_4 sequence_number;
};

// Its DER, to be encrypted with the ticket's session key (key usage 11).
std::string encode_authenticator(const AuthenticatorParts& parts);

// Writes the DER of an AP-REQ with mutual-required as its one option around a ticket (its DER, as the KDC
// issued it) and the encrypted authenticator in front of what out holds.
void encode_ap_req(der::BackwardWriter& out, std::string_view ticket, krb5_enctype etype,
                   std::string_view encrypted_authenticator);

}  // namespace easgate::delegation
