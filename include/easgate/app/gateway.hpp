#pragma once

#include <filesystem>
#include <memory>
#include <vector>

#include "easgate/app/gateway_metrics.hpp"
#include "easgate/app/reload.hpp"
#include "easgate/config/config.hpp"
#include "easgate/delegation/delegation_service.hpp"
#include "easgate/directory/certificate_mapping.hpp"
#include "easgate/directory/directory_client.hpp"
#include "easgate/identity/revocation_store.hpp"
#include "easgate/listener/downstream_session.hpp"
#include "easgate/pipeline/device_policy.hpp"

namespace easgate::app {

// What a running gateway is made of.
struct GatewayParts {
    std::vector<std::shared_ptr<listener::ListenerRuntime>> listeners;  // one per configured listener
    std::shared_ptr<directory::DirectoryClient> directory;              // null without directory:
    std::shared_ptr<const directory::CertificateMapping> mapping;       // null without directory:
    std::shared_ptr<delegation::DelegationService> delegation;          // null without kerberos:
    std::shared_ptr<const pipeline::DevicePolicy> policy;               // null without policy:
    std::shared_ptr<listener::SessionRegistry> sessions;                // every open device connection
    std::shared_ptr<common::FailureTally> refusals;                     // what the filter chain answered
    std::shared_ptr<listener::RequestMetrics> requests;                 // by command and status, durations
    std::vector<std::shared_ptr<upstream::Upstream>> upstreams;         // as configured, in order
    std::shared_ptr<identity::CrlRefreshCounters> crl_refresh;          // null without crl_refresh: cdp
    config::Config config;                                              // what these were built from
    FileDigests files;  // what the directory, delegation and upstreams read at their start
};

// Builds what each listener's connections share (TLS contexts, upstreams, the filter chain) from a
// validated configuration. Throws config::ConfigError when a certificate, key, CA, CRL file or
// keytab is unusable, so `check-config` catches what `run` would trip over.
// With running (a reload): the directory client, delegation service, policy, upstreams and each
// listener's TLS context whose settings and files are unchanged are kept, with their caches, pools
// and counters; the others are built anew, re-reading their files.
GatewayParts build_gateway(const config::Config& config, const GatewayParts* running = nullptr);

// At exit, once the loops have stopped: the directory's and the KDC's waits still pending are
// answered (DirectoryClient::stop_waiting), so that those end while the process stands.
void stop_waiting(GatewayParts& parts);

// What /metrics reads from parts.
MetricsSources metrics_sources(const GatewayParts& parts);

// What each start and each reload that took applies process-wide: the bounds of the workers' idle
// Exchange connections, and a word on each listener that checks no revocation and on each
// upstream naming an SPN without a kerberos: section (allowed, but never silently).
void take_up(const config::Config& config);

// Runs the daemon until SIGINT or SIGTERM, reloading config_path on SIGHUP; returns the exit code.
int run_gateway(const config::Config& config, const std::filesystem::path& config_path);

}  // namespace easgate::app
