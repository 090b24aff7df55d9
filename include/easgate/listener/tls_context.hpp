#pragma once

#include <boost/asio/ssl/context.hpp>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "easgate/config/config.hpp"
#include "easgate/identity/certificate_identity.hpp"
#include "easgate/identity/listed_issuers.hpp"
#include "easgate/identity/revocation_store.hpp"

namespace easgate::listener {

// What one TLS handshake concluded about the device's certificate. Filled by OpenSSL's
// verification callback, so a refusal happens at the handshake and is explained in the log.
struct ClientCertificateCheck {
    bool require_client_auth_eku = true;
    identity::UserNames user_names = identity::UserNames::required;
    identity::RevocationStore* revocation = nullptr;  // grace for expired CRLs; learns CDPs when refreshing
    bool learn_distribution_points = false;
    const identity::ListedIssuers* issuers = nullptr;       // when set, the leaf's CA must be one of them
    std::optional<identity::CertificateIdentity> identity;  // set when the leaf was accepted
    std::string refusal;                                    // why the chain was refused, or empty
    int verify_error = 0;                                   // X509_V_ERR_… of the refusal, or 0
    std::string refused_certificate;                        // subject, issuer and serial of the culprit
    std::uint64_t store_generation = 0;                     // of the CRLs checked against
    std::int64_t chain_expiry = 0;                          // the verified chain's earliest notAfter (time_t)
};

// A listener's TLS settings: its server chain, the device trust anchors (and nothing else), CRLs.
class ServerTlsContext {
public:
    // Throws config::ConfigError naming key_prefix ("listeners[0]") and the offending key. user_names:
    // whether a device certificate that names no user passes (config::Config::maps_nameless_certificates).
    ServerTlsContext(const config::ListenerConfig& listener, const std::string& key_prefix,
                     identity::UserNames user_names = identity::UserNames::required);

    boost::asio::ssl::context& context() { return context_; }

    // Makes the handshake on ssl verify the device against this listener's rules into check,
    // which must outlive the handshake.
    void verify_into(SSL* ssl, ClientCertificateCheck& check) const;

    // A resumed session skips verification. Its certificate, kept in the session, is checked again
    // when the CRLs changed since it last was (a revoked device must not go on resuming), once a
    // certificate of its chain has expired, and while a CRL is past its nextUpdate (and grace); the
    // identity, or the refusal, goes into check as a handshake would put it.
    void check_resumed(SSL* ssl, ClientCertificateCheck& check) const;

    // Verifies a device certificate (untrusted: the chain it came with, may be null) as a handshake
    // on this listener would, without learning distribution points: for `easgate doctor`.
    ClientCertificateCheck verify_certificate(X509* leaf, STACK_OF(X509) * untrusted) const;

    // The CAs and CRLs devices are verified against; a CrlRefresher keeps its CRLs fresh.
    const std::shared_ptr<identity::RevocationStore>& revocation() const { return revocation_; }

    // Seconds until the listener's own certificate expires (negative once it has), for /metrics.
    std::int64_t certificate_expiry_seconds() const;
    // Device TLS sessions in the cache now, for /metrics.
    std::size_t cached_sessions() const;

private:
    // A check with this listener's rules, not yet made.
    ClientCertificateCheck new_check() const;

    boost::asio::ssl::context context_;
    X509* certificate_ = nullptr;  // the server certificate, owned by context_
    bool require_client_auth_eku_;
    identity::UserNames user_names_;
    bool refreshes_crls_ = false;
    std::shared_ptr<identity::RevocationStore> revocation_;
    std::optional<identity::ListedIssuers> issuers_;  // with client_auth.issuers: listed
};

// Whether config lets a device certificate that names no user through the handshake.
inline identity::UserNames user_names(const config::Config& config) {
    return config.maps_nameless_certificates() ? identity::UserNames::optional
                                               : identity::UserNames::required;
}

// Whether the certificate has an EKU extension listing Client Authentication (1.3.6.1.5.5.7.3.2).
bool has_client_auth_eku(X509* certificate);

// Identifies a certificate in a log line: subject, issuer and serial.
std::string describe_certificate(X509* certificate);

}  // namespace easgate::listener
