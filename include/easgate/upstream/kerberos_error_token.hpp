#pragma once

// The KRB-ERROR an acceptor answers a refused ticket with: in its 401, WWW-Authenticate: Negotiate
// <token>, an RFC 4121 4.1 error token (TOK_ID 03 00), inside SPNEGO's NegTokenResp or bare. MIT's
// acceptor sends one to an initiator that asked for mutual authentication, as easgate's tokens do
// (Windows' does too, as browser traces of IIS show; the lab has no IIS to prove it). Its code tells
// a key Exchange does not hold from a clock or a key version.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace easgate::upstream {

struct KerberosErrorToken {
    int code = 0;         // RFC 4120 7.5.9: 41 is KRB_AP_ERR_MODIFIED
    std::string service;  // sname@realm as the acceptor names itself; empty unless a plain SPN
};

// The KRB-ERROR in the Negotiate challenges of an answer, if one holds one. The bytes come from the
// backend: anything malformed is no error token, and a service name that is not a short run of the
// characters of SPNs and realms is left out (it goes into the log and a remedy's command).
std::optional<KerberosErrorToken> kerberos_error_in(const std::vector<std::string_view>& challenges);

// "KRB_AP_ERR_MODIFIED (41)"; "Kerberos error 99" for a code RFC 4120 names no constant for.
std::string kerberos_error_name(int code);

// Codes an acceptor answers with, as RFC 4120 7.5.9 numbers them.
namespace kerberos_code {
inline constexpr int bad_integrity = 31;  // KRB_AP_ERR_BAD_INTEGRITY
inline constexpr int ticket_expired = 32;
inline constexpr int ticket_not_yet_valid = 33;
inline constexpr int not_us = 35;
inline constexpr int skew = 37;
inline constexpr int modified = 41;
inline constexpr int bad_key_version = 44;
inline constexpr int no_key = 45;
}  // namespace kerberos_code

}  // namespace easgate::upstream
