#pragma once

#include <openssl/types.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace easgate::identity {

// Who a verified device certificate says the user is. Built once per TLS session from the leaf;
// the directory finds the account from its names, SID and issuer and serial (identity.mapping).
struct CertificateIdentity {
    std::string upn;                  // SAN otherName 1.3.6.1.4.1.311.20.2.3 (UTF8String), or empty
    std::vector<std::string> emails;  // SAN rfc822Name entries, in certificate order
    std::string sid;                  // KB5014754 SID (extension 1.3.6.1.4.1.311.25.2 or SAN URL), or empty
    std::string subject;              // RFC 2253, e.g. "CN=alice,O=Example"
    std::string issuer;               // RFC 2253
    std::string issuer_as_windows;    // as altSecurityIdentities' X509:<I> holds it (windows_name.hpp)
    std::string serial;               // upper-case hex, no separators, e.g. "1A2B" ("-" first if negative)
    std::string sha1_fingerprint;     // lower-case hex, no separators
    std::string sha256_fingerprint;   // lower-case hex, no separators
    std::string subject_key_id;       // lower-case hex, or empty when the extension is absent
    // notBefore: KB5014754 refuses a weakly mapped certificate older than its account. The epoch
    // when unreadable, which makes it older than any account.
    std::chrono::system_clock::time_point not_before{};

    // The name the directory looks up: the UPN when present, else the first email; empty for a
    // certificate that names no user (UserNames::optional), found by its SID or altSecurityIdentities.
    const std::string& principal_name() const {
        static const std::string none;
        return !upn.empty() ? upn : !emails.empty() ? emails.front() : none;
    }
    // How logs name the user: principal_name(), else the certificate's subject, else its SHA-1
    // fingerprint (as altSecurityIdentities' X509:<SHA1-PUKEY> names it).
    std::string display_name() const {
        if (!upn.empty() || !emails.empty()) return principal_name();
        return !subject.empty() ? subject : "sha1:" + sha1_fingerprint;
    }
};

// Whether a certificate must name its user (a UPN or an email): unless identity.mapping can find its
// account otherwise, by its SID or in altSecurityIdentities (config::maps_nameless_certificates).
enum class UserNames { required, optional };

// Either an identity or the reason the certificate cannot identify a user.
struct IdentityResult {
    std::optional<CertificateIdentity> identity;
    std::string error;

    explicit operator bool() const { return identity.has_value(); }
};

// Longest UPN or email accepted; longer names are refused (AD's own limit is far lower).
inline constexpr std::size_t max_name_bytes = 256;

// Extracts the identity from a certificate whose chain has already been verified. The SID comes
// from the SID extension or from a SAN URL "tag:microsoft.com,2022-09-14:sid:<SID>" (KB5014754's
// form for CAs that can't add the extension, e.g. Intune's; the prefix matched ignoring case), the
// same either way; other URIs, and a SID URL whose rest is no SID, are ignored. Refuses (error set, identity
// empty) a certificate with neither a UPN nor an email where names are required; a SAN or SID extension that
// is repeated, not strict DER, or holds more than one UPN or SID; two SIDs that differ, in whichever places;
// a UPN value that is not a UTF8String; an extension's SID that is not "S-1-" and dash-separated decimal
// numbers; and a UPN or email that is empty, over max_name_bytes, not valid UTF-8 (emails: not ASCII) or
// holds a control character (C0 including NUL, CR and LF, DEL, C1). Never throws; leaves the thread's OpenSSL
// error queue as it found it, so a later TLS call does not read these decoding errors as its own.
IdentityResult extract_identity(X509* leaf, UserNames names = UserNames::required);

// The same from DER bytes, which must be exactly one certificate: trailing bytes are refused, as
// they mean the caller framed the input wrongly. Never crashes on malformed input (fuzzed).
IdentityResult extract_identity_from_der(std::span<const std::uint8_t> der,
                                         UserNames names = UserNames::required);

}  // namespace easgate::identity
