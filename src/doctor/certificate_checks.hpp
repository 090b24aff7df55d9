#pragma once

// What the listener and device checks share: dates judged alike, and the trust file and CRL checks.

#include <openssl/x509.h>

#include <optional>
#include <string>

#include "easgate/config/config.hpp"
#include "easgate/doctor/report.hpp"
#include "easgate/identity/certificate_identity.hpp"
#include "easgate/identity/revocation_store.hpp"
#include "shared_directory.hpp"

namespace easgate::doctor {

// Certificates and CAs this close to notAfter get a WARN: time to renew before devices notice.
inline constexpr int renew_within_days = 30;

struct Labelled {
    std::string area;   // "tls", "device"
    std::string check;  // "listeners[0] server certificate validity"
    std::string label;  // what the finding names: "server certificate \"CN=mail.example.com\""
};

// FAIL outside notBefore..notAfter, WARN within renew_within_days of notAfter (giving the date),
// PASS otherwise; remedy says how to renew.
void report_validity(Report& report, const Labelled& what, X509* certificate, const std::string& remedy);

// A name, RFC 2253, in quotes; the subject of a certificate so.
std::string quoted_name(const X509_NAME* name);
std::string quoted_subject(X509* certificate);

// trusted_ca_file: each CA, anchor or link, and its expiry; crl_files: each CRL signed by a listed
// CA and current; every listed CA has a CRL when revocation is checked; the CDPs crl_refresh uses.
void check_trust_and_crls(const config::ListenerConfig& listener, const std::string& prefix, Report& report);

// Each CRL Distribution Point crl_refresh knows (from the listed CAs, the CRLs, and the device
// certificate in that file when given) fetched now (ldap:/// ones through shared, skipped
// without a usable directory section), its CRLs offered to store; a failure is a WARN naming what
// easgate will do meanwhile. Nothing without crl_refresh.
void check_distribution_points(const config::ClientAuthConfig& client_auth, const std::string& prefix,
                               identity::RevocationStore& store, const std::optional<std::string>& device,
                               SharedDirectory& shared, Report& report);

// crl_refresh.cache_dir: the service account can make it or write in it (and the package's systemd
// sandbox lets it); the CRLs kept there that a start would take back are offered to store.
void check_crl_cache(const config::ClientAuthConfig& client_auth, const std::string& prefix,
                     identity::RevocationStore& store, Report& report);

// The directory account the device maps to, by identity.mapping as a request would find it; SKIP
// without a directory section.
void check_directory_account(const config::Config& config, const identity::CertificateIdentity& device,
                             SharedDirectory& shared, Report& report);

}  // namespace easgate::doctor
