#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "easgate/config/config.hpp"
#include "easgate/doctor/report.hpp"
#include "easgate/listener/tls_context.hpp"
#include "shared_directory.hpp"

// The groups of checks `easgate doctor` runs, in this order. Each adds its findings to the report
// and never throws; one that needs a section the configuration lacks adds a SKIP. Those that read
// the directory as a request does share one client (SharedDirectory).
namespace easgate::doctor {

// The area of the findings of check_kerberos and check_each_kdc.
inline constexpr const char* kerberos_area = "kerberos";

// Each listener's TLS context as check_listeners left it: its CRLs those of crl_files, of the CRL
// cache and of the distribution points, as a running easgate has them; null where it doesn't load.
using ListenerContexts = std::vector<std::unique_ptr<listener::ServerTlsContext>>;

// Listener certificate and key match and are not expiring within 30 days; trusted_ca_file and the
// CRLs load, each CRL signed by its CA and not past nextUpdate; crl_refresh's cache directory can be
// written and what it keeps; its distribution points answer with their CA's CRL (with
// device_certificate: its issuing CA's too).
ListenerContexts check_listeners(const config::Config& config,
                                 const std::optional<std::string>& device_certificate,
                                 SharedDirectory& shared, Report& report);

// Keytab readable by the service user only, holds the principal, kvno equals msDS-KeyVersionNumber;
// a TGT can be had; clock skew against the KDC; each KDC in krb5.conf on its own.
void check_kerberos(const config::Config& config, Report& report);

// Part of check_kerberos: each KDC of the realm in krb5.conf, asked on its own for easgate's TGT
// (refused, hung, or refusing the login as a DC whose replication lags).
void check_each_kdc(const config::KerberosConfig& kerberos, Report& report);

// Each directory URI: reachable, TLS verified, bind works (and which of these failed).
void check_directory(const config::Config& config, Report& report);

// Each listener's issuing CAs (its roots, where it lists nothing else) against AD's NTAuth store,
// the CAs Windows trusts to issue logon certificates: one easgate trusts and Windows doesn't warns.
void check_ntauth(const config::Config& config, Report& report);

// With policy.use_exchange_device_lists: Exchange's device-list attributes are in the schema, not
// confidential, and some account's list is readable by easgate's account.
void check_exchange_device_lists(const config::Config& config, Report& report);

// The target SPN on exactly one account; the gateway may delegate to it with protocol transition
// (or resource-based delegation on the target).
void check_delegation_setup(const config::Config& config, Report& report);

// Each server of each upstream, before any user: the connection as easgate makes it (TLS verified
// with ca_file), an OPTIONS /Microsoft-Server-ActiveSync without credentials (refused with a 401
// offering Negotiate where easgate delegates), and the server's clock from its Date header.
void check_exchange_servers(const config::Config& config, Report& report);

// --user: found, enabled, delegable; S4U2Self and S4U2Proxy; Exchange accepts the token.
void check_user(const config::Config& config, const std::string& upn, SharedDirectory& shared,
                Report& report);

// --certificate: chains to the trust file, not revoked (by the CRLs each listener holds after
// check_listeners), Client Authentication EKU, UPN (and email) in the SAN, maps to a directory user.
void check_device_certificate(const config::Config& config, const ListenerContexts& listeners,
                              const std::string& path, SharedDirectory& shared, Report& report);

}  // namespace easgate::doctor
