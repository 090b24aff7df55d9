#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "easgate/config/upstream_target.hpp"

namespace easgate::config {

using std::chrono::milliseconds;

enum class ClientAuthMode { required, optional };

// Which CAs may issue device certificates. listed: only those in trusted_ca_file (AD's NTAuth store
// holds the issuing CAs alike); a root listed there vouches for its issuing CAs, not for every CA
// under it (a Wi-Fi or a partner's CA). any_below_listed: any CA that chains to trusted_ca_file,
// sent along by the device.
enum class DeviceIssuers { listed, any_below_listed };

// cdp: each CA's CRL (and delta CRL) is fetched from the http:// CRL Distribution Points of the
// certificates it issued, every interval, and swapped in without a restart.
enum class CrlRefreshMode { off, cdp };

struct CrlRefresh {
    CrlRefreshMode mode = CrlRefreshMode::cdp;
    milliseconds interval{std::chrono::hours(1)};
    milliseconds timeout{std::chrono::seconds(10)};  // one fetch: lookup, connect, request, whole CRL
    milliseconds grace{0};  // a CRL past its nextUpdate is still used this long, then devices are refused
    std::uint64_t max_crl_bytes = 64ull << 20;  // a larger answer is dropped, the last good CRL kept
    std::string cache_dir;                      // fetched CRLs kept here, loaded at start; "" keeps none

    bool operator==(const CrlRefresh&) const = default;
};

struct ClientAuthConfig {
    ClientAuthMode mode = ClientAuthMode::required;
    std::string trusted_ca_file;  // the ONLY trust anchors for device certificates
    DeviceIssuers issuers = DeviceIssuers::listed;
    std::vector<std::string> crl_files;  // when set, revocation is checked for the whole chain
    bool require_client_auth_eku = true;
    std::optional<CrlRefresh> crl_refresh;  // crl_files are then the seed and the fallback

    bool refreshes_crls() const { return crl_refresh && crl_refresh->mode == CrlRefreshMode::cdp; }
    // Whether devices are checked for revocation: with crl_files, or CRLs fetched from the CDPs.
    bool checks_revocation() const { return !crl_files.empty() || refreshes_crls(); }

    bool operator==(const ClientAuthConfig&) const = default;
};

struct ListenerConfig {
    std::string address = "0.0.0.0";
    std::uint16_t port = 443;
    std::string certificate;  // server chain, PEM
    std::string private_key;
    ClientAuthConfig client_auth;
    std::string tls_min_version = "1.2";  // "1.2" | "1.3"
    // Device TLS sessions kept for resumption: a phone that reconnects within the lifetime skips
    // the key exchange and the certificate checks (its certificate is checked again when the CRLs
    // changed). OpenSSL's defaults; 0 sessions turns resumption off.
    unsigned tls_session_cache_size = 20480;
    std::chrono::milliseconds tls_session_lifetime = std::chrono::hours(2);
    std::string upstream;  // name of the upstream; the first one when empty
    // The host name devices use for easgate, put into Exchange's 451 redirects; when empty, the
    // Host header of the device's request.
    std::string public_name;
    // Behind a load balancer in TCP mode: each connection starts with a PROXY protocol header
    // naming the device, accepted only from trusted_proxies (CIDR); both reloadable.
    bool proxy_protocol = false;
    std::vector<std::string> trusted_proxies;

    bool operator==(const ListenerConfig&) const = default;
};

// When easgate sends "Authorization: Negotiate": on every request (safe whatever IIS's
// authPersistNonNTLM), or only on each upstream connection's first request, for backends that
// keep Kerberos authentication per connection.
enum class UpstreamAuthentication { per_request, per_connection };

// always: the token goes with the request (no extra round trip). on_challenge: only after the
// backend answered 401 with "WWW-Authenticate: Negotiate"; the buffered request is then replayed.
enum class SendAuthorization { always, on_challenge };

// Extended Protection for Authentication (Exchange 2019 CU14+): auto binds each Kerberos token to
// the upstream TLS connection (RFC 5929 tls-server-end-point) whenever the upstream is https.
enum class ChannelBinding { automatic, off };

struct UpstreamConfig {
    std::string name;
    std::vector<UpstreamTarget> servers;
    std::string ca_file;  // verifies Exchange's certificate; the system store when empty
    std::string service_principal;
    UpstreamAuthentication authenticate = UpstreamAuthentication::per_request;
    SendAuthorization send_authorization = SendAuthorization::always;
    ChannelBinding channel_binding = ChannelBinding::automatic;
    // A larger Kerberos token (a user in very many groups) is refused before it reaches Exchange,
    // whose HTTP.sys would answer 400 unless MaxFieldLength/MaxRequestBytes were raised to match.
    std::uint64_t max_authorization_bytes = 64ULL << 10;
    // Active health checks: a GET of `path` on every server each `interval`; a server that fails
    // (no 200 within `timeout`) is left out until it passes again. Absent: passive checks only.
    struct HealthCheck {
        std::string path = "/Microsoft-Server-ActiveSync/healthcheck.htm";
        milliseconds interval{10'000};
        milliseconds timeout{5'000};

        bool operator==(const HealthCheck&) const = default;
    };
    std::optional<HealthCheck> health_check;
    // Path prefixes relayed besides /Microsoft-Server-ActiveSync and /autodiscover/autodiscover.xml.
    std::vector<std::string> routes;
    // How often the servers' names are looked up again, off the request path (AddressBook).
    milliseconds dns_refresh{30'000};

    bool operator==(const UpstreamConfig&) const = default;
};

struct LimitsConfig {
    std::uint64_t upload_read_ahead = 10ULL << 20;
    std::uint64_t max_request_body = 64ULL << 20;
    std::uint64_t max_header_bytes = 32ULL << 10;
    milliseconds handshake_timeout{10'000};         // from accept: a PROXY header and the TLS handshake
    milliseconds header_timeout{15'000};            // the first request's header, after the handshake
    milliseconds idle_timeout{120'000};             // a kept-alive device connection between requests
    milliseconds client_body_timeout{60'000};       // between two reads of a request body
    milliseconds upstream_connect_timeout{10'000};  // TCP connect and TLS handshake to Exchange
    milliseconds upstream_timeout{120'000};         // waiting for Exchange's response
    milliseconds max_long_poll{3'660'000};  // a Ping or Sync with Wait: its own interval + 60s, at most this
    milliseconds shutdown_grace{30'000};    // SIGTERM: how long requests in flight may take to finish
    // SIGTERM: how long to keep accepting, /readyz at 503, before closing the listeners, so a load
    // balancer's health check takes the node out before its connections would be refused.
    milliseconds shutdown_delay{0};
    std::uint64_t min_body_rate = 256;   // bytes/s a request body must average after a grace; 0 = off
    unsigned max_connections = 100'000;  // device connections open at once; more are closed at accept
    // Device connections one user (the directory account) may hold open; a request on one more gets
    // 503. 0 = no limit.
    unsigned max_connections_per_user = 64;
    // Connections from one source (an IPv4 address, an IPv6 /64) opening at once: in their TLS
    // handshake or before their first request's header; one more is closed at once. 0 = no limit.
    unsigned max_opening_per_address = 100;
    milliseconds upstream_idle_timeout{60'000};     // an idle pooled Exchange connection is closed then
    unsigned max_idle_upstream_connections = 1024;  // idle Exchange connections kept, per worker thread

    bool operator==(const LimitsConfig&) const = default;
};

enum class DirectoryBind { gssapi, simple };
enum class LdapTls { starttls, none };

// Active Directory over LDAP: who the certificate's UPN is, and whether they may sign in.
struct DirectoryConfig {
    std::vector<std::string> uris;  // ldaps://dc1… or ldap://dc1…; tried in order (failover)
    std::string base_dn;
    DirectoryBind bind = DirectoryBind::gssapi;  // SASL GSSAPI with kerberos.keytab: no password
    std::string bind_dn;                         // simple bind only
    std::string password_file;                   // simple bind only
    LdapTls ldap_tls = LdapTls::starttls;        // for ldap:// URIs
    std::string ca_file;                         // verifies the DCs' LDAPS/StartTLS certificates
    milliseconds timeout{5'000};                 // per URI: connect, TLS and bind together; each search
    milliseconds cache_ttl{300'000};
    milliseconds negative_cache_ttl{60'000};
    unsigned max_concurrent = 4;  // LDAP operations in flight
    // Searches waiting for one of them; a lookup finding the queue full is answered unavailable
    // (503 + Retry-After) at once instead of waiting behind a directory that can't keep up.
    unsigned max_queued_lookups = 1'000;
    // When set, only members of this group (its DN; nested membership counts) get in.
    std::string require_group;

    bool operator==(const DirectoryConfig&) const = default;
};

// easgate's own Kerberos identity, used for S4U2Self/S4U2Proxy (and the LDAP GSSAPI bind).
struct KerberosConfig {
    std::string keytab;
    std::string principal;  // e.g. EASGATE$@EXAMPLE.TEST
    std::string krb5_conf;  // optional; the system's krb5.conf otherwise
    milliseconds ticket_refresh_before{300'000};
    unsigned max_concurrent_kdc = 4;  // KDC exchanges in flight
    unsigned max_queued_kdc = 1'000;  // KDC exchanges waiting for a thread; beyond: 503 at once
    // How long a request waits for the KDC (a login, S4U2Self, S4U2Proxy) before it gets 503.
    milliseconds timeout{5'000};

    std::string realm() const { return principal.substr(principal.rfind('@') + 1); }

    bool operator==(const KerberosConfig&) const = default;
};

// How a device certificate finds its account in AD (identity.mapping).
enum class CertificateMapping {
    upn,                      // SAN UPN → userPrincipalName (an email-only certificate: its email)
    email,                    // SAN rfc822Name → mail or proxyAddresses
    sid,                      // the SID extension 1.3.6.1.4.1.311.25.2 → objectSid
    alt_security_identities,  // explicit X509:<I>…<SR>…, <SKI>…, <SHA1-PUKEY>… → altSecurityIdentities
};

// Microsoft KB5014754: sid and alt_security_identities are strong mappings, upn and email weak; a
// certificate's SID extension must name the account it maps to (unless off).
enum class StrongMapping { required, preferred, off };

struct IdentityConfig {
    std::vector<CertificateMapping> mapping{CertificateMapping::upn};  // tried in order; first match wins
    StrongMapping strong_mapping = StrongMapping::preferred;
    // With preferred, a weakly mapped certificate whose notBefore is earlier than its account's
    // whenCreated by more than this is refused (KB5014754, as Microsoft's
    // CertificateBackdatingCompensation): AD CS backdates notBefore by 10 minutes (ClockSkewMinutes),
    // and the CA's clock may be 5 minutes behind the DC's (Kerberos' allowed skew).
    milliseconds backdating_compensation{std::chrono::minutes(15)};

    bool operator==(const IdentityConfig&) const = default;
};

enum class PolicyAction { allow, deny };

// One rule of the device policy. It matches a request when each term it lists matches (one of
// that term's values does); a term whose field the request lacks (no certificate, no DeviceId)
// does not match. Values other than patterns and networks are compared ignoring case.
struct PolicyRule {
    std::string name;  // in the log line of each decision and the metrics label
    PolicyAction action = PolicyAction::deny;
    std::vector<std::string> users;              // the account's UPN, sAMAccountName or mail
                                                 // (the certificate's name without a directory)
    std::vector<std::string> groups;             // direct membership: a group's CN or its full DN
    std::vector<std::string> device_ids;         // DeviceId
    std::vector<std::string> device_types;       // DeviceType, e.g. iPhone, Android
    std::vector<std::string> user_agents;        // regular expressions, found anywhere in User-Agent
    std::vector<std::string> commands;           // Cmd, e.g. Sync, SendMail
    std::vector<std::string> protocol_versions;  // e.g. "14.1", "16.1"
    std::vector<std::string> source_networks;    // CIDR, the device's address as easgate sees it

    bool operator==(const PolicyRule&) const = default;
};

// Ordered rules, the first that matches decides; none matching: `default_action`.
struct PolicyConfig {
    PolicyAction default_action = PolicyAction::allow;
    std::vector<PolicyRule> rules;
    // Before the rules: a device in the user's msExchMobileBlockedDeviceIDs, or missing from a
    // non-empty msExchMobileAllowedDeviceIDs, is denied, as Exchange itself would.
    bool use_exchange_device_lists = false;

    bool operator==(const PolicyConfig&) const = default;
};

// The names of the decisions use_exchange_device_lists makes, reserved like "default".
inline constexpr const char* exchange_blocked_devices_rule = "exchange_blocked_devices";
inline constexpr const char* exchange_allowed_devices_rule = "exchange_allowed_devices";

struct AdminConfig {
    std::string listen = "127.0.0.1:9443";

    bool operator==(const AdminConfig&) const = default;
};

enum class LogFormat { text, json };

struct LoggingConfig {
    std::string level = "info";
    LogFormat format = LogFormat::text;
    std::string access_log;  // a file for the access log; "" = with the rest, on stderr (the journal)

    bool operator==(const LoggingConfig&) const = default;
};

struct Config {
    std::vector<ListenerConfig> listeners;
    std::vector<UpstreamConfig> upstreams;
    LimitsConfig limits;
    AdminConfig admin;
    LoggingConfig logging;
    IdentityConfig identity;
    std::optional<DirectoryConfig> directory;  // absent: no directory check
    std::optional<KerberosConfig> kerberos;    // absent: pass-through, no delegation
    std::optional<PolicyConfig> policy;        // absent: every device and request may pass
    unsigned workers = 0;                      // I/O threads; 0 = one per core

    const UpstreamConfig& upstream_for(const ListenerConfig& listener) const;
    // Whether a device certificate that names no user (no UPN, no email) can find its account: by
    // its SID or in altSecurityIdentities, in the directory. Else the handshake refuses it.
    bool maps_nameless_certificates() const;
};

// A configuration mistake, already worded for the operator: "listeners[0].port: ... (line 4)".
class ConfigError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// Reads and validates a configuration file; throws ConfigError naming the key and YAML line.
Config load_config(const std::filesystem::path& path);

// The effective configuration (defaults filled in) as YAML, for `easgate check-config`.
std::string to_yaml(const Config& config);

}  // namespace easgate::config
