#include "easgate/app/gateway.hpp"

#include <spdlog/spdlog.h>

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <csignal>
#include <functional>
#include <thread>

#include "easgate/admin/admin_server.hpp"
#include "easgate/app/gateway_metrics.hpp"
#include "easgate/common/listen_socket.hpp"
#include "easgate/config/units.hpp"
#include "easgate/identity/crl_refresher.hpp"
#include "easgate/listener/listener.hpp"
#include "easgate/pipeline/delegation_stage.hpp"
#include "easgate/pipeline/directory_stage.hpp"
#include "easgate/pipeline/policy_stage.hpp"
#include "easgate/upstream/health_checker.hpp"

namespace easgate::app {

namespace asio = boost::asio;

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

}  // namespace

GatewayParts build_gateway(const config::Config& config) {
    // One directory client and one delegation service for the process: their caches and their
    // KDC/LDAP connections serve every listener.
    GatewayParts parts;
    parts.sessions = std::make_shared<listener::SessionRegistry>();
    parts.refusals = std::make_shared<common::FailureTally>();
    if (config.directory)
        parts.directory = std::make_shared<directory::DirectoryClient>(
            *config.directory, config.kerberos ? &*config.kerberos : nullptr);
    if (parts.directory)
        parts.mapping =
            std::make_shared<const directory::CertificateMapping>(config.identity, parts.directory);
    if (config.kerberos) parts.delegation = std::make_shared<delegation::DelegationService>(*config.kerberos);
    if (config.policy) parts.policy = std::make_shared<const pipeline::DevicePolicy>(*config.policy);

    auto& upstreams = parts.upstreams;
    std::vector<std::shared_ptr<pipeline::RequestPipeline>> pipelines;  // per upstream: its own SPN
    for (std::size_t i = 0; i < config.upstreams.size(); ++i) {
        upstreams.push_back(std::make_shared<upstream::Upstream>(config.upstreams[i],
                                                                 "upstreams[" + std::to_string(i) + "]"));
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
        runtime->tls =
            std::make_shared<listener::ServerTlsContext>(listener, "listeners[" + std::to_string(i) + "]");
        if (listener.client_auth.refreshes_crls() && !parts.crl_refresh)
            parts.crl_refresh = std::make_shared<identity::CrlRefreshCounters>();
        runtime->upstream = upstreams[index];
        runtime->pipeline = pipelines[index];
        runtime->refusal_log = refusal_log;
        runtime->sessions = parts.sessions;
        runtime->refusals = parts.refusals;
        parts.listeners.push_back(std::move(runtime));
    }
    return parts;
}

namespace {

// One event loop per worker thread, kept running until stopped.
struct Workers {
    std::vector<std::unique_ptr<asio::io_context>> contexts;
    std::vector<asio::executor_work_guard<asio::io_context::executor_type>> keep_running;
    std::shared_ptr<std::atomic<unsigned>> next = std::make_shared<std::atomic<unsigned>>(0);

    explicit Workers(unsigned count) {
        for (unsigned i = 0; i < count; ++i) {
            contexts.push_back(std::make_unique<asio::io_context>(1));
            // Asio creates a context's reactor (epoll, eventfd and timerfd descriptors) with its first
            // socket, and its resolver service with the first resolver. Made now, they can't fail when
            // the process is later out of descriptors (a throw that ended easgate).
            asio::ip::tcp::socket reactor_warm_up(*contexts.back());
            asio::ip::tcp::resolver resolver_warm_up(*contexts.back());
            keep_running.push_back(asio::make_work_guard(*contexts.back()));
        }
    }
    // Round-robin: each new device connection lives on the next worker.
    listener::Listener::ExecutorPicker picker() {
        return [this]() -> asio::any_io_executor {
            return contexts[next->fetch_add(1, std::memory_order_relaxed) % contexts.size()]->get_executor();
        };
    }
};

std::vector<std::unique_ptr<listener::Listener>> open_listeners(
    const config::Config& config, asio::io_context& accept_context, const GatewayParts& parts,
    const listener::Listener::ExecutorPicker& pick) {
    std::vector<std::unique_ptr<listener::Listener>> listeners;
    for (std::size_t i = 0; i < config.listeners.size(); ++i) {
        const auto& lc = config.listeners[i];
        const auto& runtime = parts.listeners[i];
        boost::system::error_code ec;
        const auto address = asio::ip::make_address(lc.address, ec);
        if (ec)
            throw config::ConfigError("listeners[" + std::to_string(i) +
                                      "].address: not an IP address: " + lc.address);
        try {
            listeners.push_back(std::make_unique<listener::Listener>(
                accept_context, asio::ip::tcp::endpoint(address, lc.port), runtime, pick));
        } catch (const std::runtime_error& e) {
            throw config::ConfigError("listeners[" + std::to_string(i) + "]: " + e.what());
        }
        spdlog::info(
            "listening on {}:{} for devices (client certificates {}), forwarding to upstream {} ({})",
            lc.address, listeners.back()->local_endpoint().port(),
            lc.client_auth.mode == config::ClientAuthMode::required ? "required" : "optional",
            runtime->upstream->name(), runtime->upstream->server(0).url);
    }
    return listeners;
}

std::unique_ptr<admin::AdminServer> open_admin(const config::Config& config, asio::io_context& accept_context,
                                               const GatewayParts& parts) {
    std::unique_ptr<admin::AdminServer> admin_server;
    try {
        admin_server = std::make_unique<admin::AdminServer>(
            accept_context, *common::parse_listen_address(config.admin.listen),
            [&parts] {
                std::vector<const upstream::Upstream*> upstreams;
                for (const auto& u : parts.upstreams) upstreams.push_back(u.get());
                return collect_metrics({parts.directory ? &parts.directory->counters() : nullptr,
                                        parts.delegation ? &parts.delegation->counters() : nullptr,
                                        parts.sessions.get(), upstreams, parts.policy.get(),
                                        parts.refusals.get(), parts.crl_refresh.get()});
            },
            [&parts]() -> std::optional<std::string> {
                if (parts.delegation) return parts.delegation->not_ready_reason();
                return std::nullopt;
            });
    } catch (const std::runtime_error& e) {
        throw config::ConfigError(std::string("admin.listen: ") + e.what());
    }
    spdlog::info("admin endpoint on http://{}:{} (/metrics, /healthz)",
                 admin_server->local_endpoint().address().to_string(), admin_server->local_endpoint().port());
    return admin_server;
}

}  // namespace

int run_gateway(const config::Config& config) {
    const unsigned worker_count =
        config.workers != 0 ? config.workers : std::max(1u, std::thread::hardware_concurrency());

    // One event loop per worker thread; the accept loop and signals run on their own. Made before
    // the gateway's parts, so they are destroyed after them: the directory's and the KDC's threads
    // post their answers to these loops, and are joined (with the parts) while the loops exist.
    asio::io_context accept_context(1);
    Workers workers(worker_count);
    const auto parts = build_gateway(config);
    const auto listeners = open_listeners(config, accept_context, parts, workers.picker());
    const auto admin_server = open_admin(config, accept_context, parts);
    for (auto& l : listeners) l->start();
    admin_server->start();
    // After the listeners: a KDC that doesn't answer delays no start-up, it only keeps /healthz at 503.
    if (parts.delegation) parts.delegation->start_login();
    upstream::start_health_checks(accept_context.get_executor(), parts.upstreams);
    for (std::size_t i = 0; i < config.listeners.size(); ++i) {
        if (!config.listeners[i].client_auth.refreshes_crls()) continue;
        std::make_shared<identity::CrlRefresher>(
            accept_context.get_executor(), parts.listeners[i]->tls->revocation(),
            *config.listeners[i].client_auth.crl_refresh, parts.crl_refresh)
            ->start();
    }

    const auto stop_now = [&] {
        admin_server->stop();
        for (auto& w : workers.contexts) w->stop();
        accept_context.stop();
    };
    // SIGTERM/SIGINT: stop accepting, let requests in flight finish, answer held long polls early,
    // and stop once every connection has closed or limits.shutdown_grace has passed. A second
    // signal stops at once.
    asio::signal_set signals(accept_context, SIGINT, SIGTERM);
    asio::steady_timer drain_check(accept_context);
    std::chrono::steady_clock::time_point drain_deadline;
    std::function<void()> check_drained = [&] {
        const auto open = parts.sessions->size();
        if (open == 0 || std::chrono::steady_clock::now() >= drain_deadline) {
            if (open > 0) spdlog::warn("limits.shutdown_grace passed: closing {} connections", open);
            stop_now();
            return;
        }
        drain_check.expires_after(std::chrono::milliseconds(50));
        drain_check.async_wait([&](const boost::system::error_code& ec) {
            if (!ec) check_drained();
        });
    };
    signals.async_wait([&](const boost::system::error_code& ec, int signal) {
        if (ec) return;
        spdlog::info("received signal {}: draining {} device connections (at most {})", signal,
                     parts.sessions->size(), config::format_duration(config.limits.shutdown_grace));
        for (auto& l : listeners) l->stop();
        drain_deadline = std::chrono::steady_clock::now() + config.limits.shutdown_grace;
        parts.sessions->drain_all();
        check_drained();
        signals.async_wait([&](const boost::system::error_code& again, int) {
            if (!again) stop_now();
        });
    });

    std::vector<std::thread> threads;
    for (auto& w : workers.contexts) threads.emplace_back([&context = *w] { context.run(); });
    spdlog::info("easgate {} started with {} worker threads", EASGATE_VERSION, worker_count);
    accept_context.run();
    for (auto& t : threads) t.join();
    spdlog::info("easgate stopped");
    return 0;
}

}  // namespace easgate::app
