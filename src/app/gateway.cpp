#include "easgate/app/gateway.hpp"

#include <spdlog/spdlog.h>

#include "easgate/delegation/kerberos_errors.hpp"
#include "easgate/identity/trust_store.hpp"
#include "easgate/pipeline/delegation_stage.hpp"
#include "easgate/pipeline/directory_stage.hpp"
#include "easgate/pipeline/policy_stage.hpp"
#include "easgate/upstream/idle_pool.hpp"

namespace easgate::app {

namespace {

// The filter chain of nginx/Envoy: identity → directory → policy → delegation. Configuration
// checks guarantee that kerberos comes with a directory and an upstream service principal.
std::shared_ptr<pipeline::RequestPipeline> build_pipeline(
    const GatewayParts& parts, const std::optional<config::KerberosConfig>& kerberos,
    const config::UpstreamConfig& upstream) {
    auto pipeline = std::make_shared<pipeline::RequestPipeline>();
    pipeline->add(std::make_unique<pipeline::CertificateAuthStage>());
    if (parts.mapping) pipeline->add(std::make_unique<pipeline::DirectoryStage>(parts.mapping));
    if (parts.policy) pipeline->add(std::make_unique<pipeline::PolicyStage>(parts.policy));
    if (parts.delegation)
        pipeline->add(std::make_unique<pipeline::DelegationStage>(parts.delegation, kerberos->realm(),
                                                                  upstream.service_principal,
                                                                  upstream.max_authorization_bytes));
    return pipeline;
}

// The running one when its section and files are unchanged, else a new one from make().
template <class Service, class Make>
std::shared_ptr<Service> keep_or_make(const std::shared_ptr<Service>* running, bool same_section,
                                      bool same_files, Make make) {
    if (running && *running && same_section && same_files) return *running;
    return make();
}

// What a listener's ServerTlsContext is made of.
bool same_tls_settings(const config::ListenerConfig& a, const config::ListenerConfig& b) {
    return a.certificate == b.certificate && a.private_key == b.private_key &&
           a.client_auth == b.client_auth && a.tls_min_version == b.tls_min_version &&
           a.tls_session_cache_size == b.tls_session_cache_size &&
           a.tls_session_lifetime == b.tls_session_lifetime;
}

std::vector<std::string> tls_files(const config::ListenerConfig& listener) {
    std::vector<std::string> files{listener.certificate, listener.private_key,
                                   listener.client_auth.trusted_ca_file};
    files.insert(files.end(), listener.client_auth.crl_files.begin(), listener.client_auth.crl_files.end());
    return files;
}

// listeners[i]'s TLS context: the running one while its TLS settings and files are unchanged, and
// with it its session cache (phones go on resuming after a reload) and the CRLs crl_refresh fetched.
std::shared_ptr<listener::ServerTlsContext> listener_tls(const config::Config& config, std::size_t i,
                                                         const GatewayParts* running,
                                                         const FileDigests& before, FileDigests& files) {
    const auto& listener = config.listeners[i];
    const bool known = running && i < running->config.listeners.size();
    const bool same_files = record_unchanged(tls_files(listener), before, files);
    const bool same_settings =
        known && same_tls_settings(running->config.listeners[i], listener) &&
        running->config.maps_nameless_certificates() == config.maps_nameless_certificates();
    return keep_or_make(known ? &running->listeners[i]->tls : nullptr, same_settings, same_files, [&] {
        return std::make_shared<listener::ServerTlsContext>(listener, "listeners[" + std::to_string(i) + "]",
                                                            listener::user_names(config));
    });
}

// The directory's GSSAPI bind logs in from the keytab as the delegation stage does: a stale keytab,
// no KDC or a skewed clock is worded alike there, not as directory servers failing.
directory::LoginExplainer login_explainer(const config::Config& config) {
    if (!config.kerberos) return {};
    return
        [names = delegation::service_names(*config.kerberos)](std::int32_t code, std::string_view message) {
            return delegation::explain_kerberos_failure(delegation::KerberosStep::service_login, names, code,
                                                        message);
        };
}

// Which CAs devices are accepted from: with only roots listed in a two-tier PKI, that is none of
// the CAs that issue them, which a start says before the first phone is refused.
void log_device_issuers(const config::ListenerConfig& listener, std::size_t i) {
    if (listener.client_auth.issuers != config::DeviceIssuers::listed) return;
    const auto cas = identity::read_pem_certificates(listener.client_auth.trusted_ca_file);
    std::string names;
    bool roots_only = true;
    for (const auto& ca : cas) {
        names += names.empty() ? "\"" : ", \"";  // piece by piece: GCC 12 misreads "\"" + name + "\""
        names += identity::name_text(X509_get_subject_name(ca.get()));
        names += '"';
        roots_only = roots_only && X509_self_signed(ca.get(), 0) == 1;
    }
    spdlog::info(
        "listeners[{}]: device certificates issued by {} are accepted (client_auth.issuers: listed){}", i,
        names,
        roots_only ? "; only roots are listed: in a two-tier PKI list the issuing CAs in trusted_ca_file "
                     "too, or their devices are refused"
                   : "");
}

}  // namespace

void stop_waiting(GatewayParts& parts) {
    if (parts.directory) parts.directory->stop_waiting();
    if (parts.delegation) parts.delegation->stop_waiting();
}

void take_up(const config::Config& config) {
    upstream::IdleConnectionPool::configure(config.limits.max_idle_upstream_connections,
                                            config.limits.upstream_idle_timeout);
    for (std::size_t i = 0; i < config.listeners.size(); ++i) {
        if (config.listeners[i].client_auth.checks_revocation()) continue;
        spdlog::warn(
            "listeners[{}]: device certificates are not checked for revocation (no client_auth.crl_files, "
            "no crl_refresh): a revoked phone still gets in; list each CA's CRL in crl_files or turn on "
            "crl_refresh",
            i);
    }
    for (std::size_t i = 0; i < config.listeners.size(); ++i) log_device_issuers(config.listeners[i], i);
    // The example configuration names the SPN and leaves kerberos: commented out: without a word,
    // every device would be asked for a password by Exchange.
    for (std::size_t i = 0; i < config.upstreams.size() && !config.kerberos; ++i) {
        if (config.upstreams[i].service_principal.empty()) continue;
        spdlog::warn(
            "upstreams[{}].service_principal is set but there is no kerberos: section: easgate sends "
            "Exchange no Kerberos token, and Exchange answers 401 to devices that don't sign in "
            "themselves; add the kerberos: section for certificate sign-in, or remove service_principal",
            i);
    }
}

GatewayParts build_gateway(const config::Config& config, const GatewayParts* running) {
    // One directory client and one delegation service for the process: their caches and their
    // KDC/LDAP connections serve every listener.
    GatewayParts parts;
    parts.config = config;
    const auto* was = running ? &running->config : nullptr;
    const FileDigests none;
    const auto& before = running ? running->files : none;
    parts.sessions = running ? running->sessions : std::make_shared<listener::SessionRegistry>();
    parts.refusals = running ? running->refusals : std::make_shared<common::FailureTally>();
    parts.requests = running ? running->requests : std::make_shared<listener::RequestMetrics>();
    parts.crl_refresh = running ? running->crl_refresh : nullptr;

    const std::string keytab = config.kerberos ? config.kerberos->keytab : "";
    const bool same_kerberos = was && was->kerberos == config.kerberos;
    const bool same_keytab = record_unchanged({keytab}, before, parts.files);
    if (config.directory) {
        const bool same_files = record_unchanged({config.directory->ca_file, config.directory->password_file},
                                                 before, parts.files);
        parts.directory =
            keep_or_make(running ? &running->directory : nullptr,
                         same_kerberos && was->directory == config.directory, same_files && same_keytab, [&] {
                             return std::make_shared<directory::DirectoryClient>(
                                 *config.directory, config.kerberos ? &*config.kerberos : nullptr,
                                 login_explainer(config));
                         });
        // A reload is how an admin makes a change in AD count now (an account disabled for a lost
        // phone): the answers cached for directory.cache_ttl go, the connections stay.
        if (running && parts.directory == running->directory) parts.directory->forget_lookups();
        parts.mapping =
            std::make_shared<const directory::CertificateMapping>(config.identity, parts.directory);
    }
    if (config.kerberos)
        parts.delegation =
            keep_or_make(running ? &running->delegation : nullptr, same_kerberos, same_keytab,
                         [&] { return std::make_shared<delegation::DelegationService>(*config.kerberos); });
    if (config.policy)
        parts.policy =
            keep_or_make(running ? &running->policy : nullptr, was && was->policy == config.policy, true,
                         [&] { return std::make_shared<const pipeline::DevicePolicy>(*config.policy); });

    auto& upstreams = parts.upstreams;
    std::vector<std::shared_ptr<pipeline::RequestPipeline>> pipelines;  // per upstream: its own SPN
    for (std::size_t i = 0; i < config.upstreams.size(); ++i) {
        const bool known = was && i < was->upstreams.size();
        const bool same_files = record_unchanged({config.upstreams[i].ca_file}, before, parts.files);
        upstreams.push_back(keep_or_make(known ? &running->upstreams[i] : nullptr,
                                         known && was->upstreams[i] == config.upstreams[i], same_files, [&] {
                                             return std::make_shared<upstream::Upstream>(
                                                 config.upstreams[i], "upstreams[" + std::to_string(i) + "]");
                                         }));
        pipelines.push_back(build_pipeline(parts, config.kerberos, config.upstreams[i]));
    }
    auto refusal_log = std::make_shared<common::LogRateLimiter>();

    for (std::size_t i = 0; i < config.listeners.size(); ++i) {
        const auto& listener = config.listeners[i];
        const auto& upstream = config.upstream_for(listener);
        const auto index = static_cast<std::size_t>(&upstream - config.upstreams.data());
        auto runtime = std::make_shared<listener::ListenerRuntime>();
        runtime->limits = config.limits;
        runtime->public_name = listener.public_name;
        runtime->tls = listener_tls(config, i, running, before, parts.files);
        if (listener.client_auth.refreshes_crls() && !parts.crl_refresh)
            parts.crl_refresh = std::make_shared<identity::CrlRefreshCounters>();
        runtime->upstream = upstreams[index];
        runtime->pipeline = pipelines[index];
        runtime->refusal_log = refusal_log;
        runtime->sessions = parts.sessions;
        runtime->refusals = parts.refusals;
        runtime->requests = parts.requests;
        runtime->proxy_protocol = listener.proxy_protocol;
        for (const auto& network : listener.trusted_proxies)
            runtime->trusted_proxies.push_back(*common::IpNetwork::parse(network));  // checked by the config
        parts.listeners.push_back(std::move(runtime));
    }
    return parts;
}

MetricsSources metrics_sources(const GatewayParts& parts) {
    MetricsSources sources{.directory = parts.directory ? &parts.directory->counters() : nullptr,
                           .delegation = parts.delegation ? &parts.delegation->counters() : nullptr,
                           .sessions = parts.sessions.get(),
                           .upstreams = {},
                           .policy = parts.policy.get(),
                           .refusals = parts.refusals.get(),
                           .crl_refresh = parts.crl_refresh.get(),
                           .requests = parts.requests.get()};
    for (const auto& u : parts.upstreams) sources.upstreams.push_back(u.get());
    if (parts.directory) sources.directory_cache_entries = parts.directory->cached_lookups();
    if (parts.delegation) sources.delegation_cache_entries = parts.delegation->cached_credentials();
    for (const auto& listener : parts.listeners) sources.listener_tls.push_back(listener->tls.get());
    return sources;
}

}  // namespace easgate::app
