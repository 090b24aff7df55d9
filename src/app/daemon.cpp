// `easgate run`: the event loops, the listeners and the admin endpoint; SIGTERM drains, SIGHUP
// reloads.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <chrono>
#include <csignal>
#include <map>
#include <set>
#include <thread>

#include "easgate/admin/admin_server.hpp"
#include "easgate/app/gateway.hpp"
#include "easgate/app/gateway_metrics.hpp"
#include "easgate/common/listen_socket.hpp"
#include "easgate/common/logging.hpp"
#include "easgate/common/service_notify.hpp"
#include "easgate/config/units.hpp"
#include "easgate/identity/crl_refresher.hpp"
#include "easgate/listener/listener.hpp"
#include "easgate/upstream/health_checker.hpp"

namespace easgate::app {

namespace asio = boost::asio;

namespace {

std::uint64_t unix_now() {
    return static_cast<std::uint64_t>(
        std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
            .count());
}

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

// The running daemon. Everything but the worker threads' sessions runs on the accept context's
// thread: signals, reloads, the admin endpoint, health checks and CRL refresh.
class Daemon {
public:
    Daemon(const config::Config& config, std::filesystem::path config_path);
    int run();

private:
    void open_listeners(const listener::Listener::ExecutorPicker& pick);
    void open_admin();
    void start_background_work(const GatewayParts* replaced);
    asio::awaitable<common::Result<std::string>> read_published(
        std::weak_ptr<directory::DirectoryClient> weak, std::string url, std::chrono::milliseconds timeout);
    void on_stop_signal();
    void check_drained();
    void stop_now();
    void reload();
    void install(GatewayParts next);
    void sweep_retired();

    std::filesystem::path config_path_;
    unsigned worker_count_;
    // Made before the gateway's parts, so destroyed after them: the directory's and the KDC's threads
    // post their answers to these loops, and are joined (with the parts, once run() let go of what
    // waited) while the loops exist. The workers outlive the accept context: an accept still
    // pending there at exit holds a socket made for a worker's loop.
    Workers workers_;
    // Where replaced parts are torn down: that may wait for threads stuck in krb5 or libldap (krb5
    // gives up on a silent KDC only after about 30 s), which must not hold up the accept thread.
    // Joined before the workers end, like the parts.
    asio::thread_pool retirement_{1};
    asio::io_context accept_context_{1};
    // Where the CRL refreshers parse and check what they fetched (seconds for a CRL of many MiB).
    // Joined before the accept context ends, whose loops wait for these jobs.
    asio::thread_pool crl_work_{1};
    GatewayParts parts_;
    // Until then a reload's new delegation service, still logging in, is ready: the one it replaced was.
    std::chrono::steady_clock::time_point delegation_stand_in_until_{};
    std::vector<std::unique_ptr<listener::Listener>> listeners_;
    std::unique_ptr<admin::AdminServer> admin_;
    std::vector<std::shared_ptr<identity::CrlRefresher>> crl_refreshers_;
    // Parts a reload replaced, kept until no open connection uses them, so that what they own (the
    // directory's and the KDC's threads) ends on retirement_ and never on a worker thread.
    std::vector<GatewayParts> retired_;
    asio::steady_timer retire_sweep_{accept_context_};
    ReloadStatus reload_status_;
    asio::signal_set stop_signals_{accept_context_, SIGINT, SIGTERM};
    asio::signal_set hangup_{accept_context_, SIGHUP};
    asio::steady_timer drain_check_{accept_context_};
    std::chrono::steady_clock::time_point drain_deadline_;
};

Daemon::Daemon(const config::Config& config, std::filesystem::path config_path)
    : config_path_(std::move(config_path)),
      worker_count_(config.workers != 0 ? config.workers : std::max(1u, std::thread::hardware_concurrency())),
      workers_(worker_count_),
      parts_(build_gateway(config)) {
    reload_status_.last_success_unix = unix_now();
    take_up(parts_.config);
    open_listeners(workers_.picker());
    open_admin();
}

void Daemon::open_listeners(const listener::Listener::ExecutorPicker& pick) {
    const auto& config = parts_.config;
    for (std::size_t i = 0; i < config.listeners.size(); ++i) {
        const auto& lc = config.listeners[i];
        const auto& runtime = parts_.listeners[i];
        boost::system::error_code ec;
        const auto address = asio::ip::make_address(lc.address, ec);
        if (ec)
            throw config::ConfigError("listeners[" + std::to_string(i) +
                                      "].address: not an IP address: " + lc.address);
        try {
            listeners_.push_back(std::make_unique<listener::Listener>(
                accept_context_, asio::ip::tcp::endpoint(address, lc.port), runtime, pick));
        } catch (const std::runtime_error& e) {
            throw config::ConfigError("listeners[" + std::to_string(i) + "]: " + e.what());
        }
        spdlog::info(
            "listening on {}:{} for devices (client certificates {}), forwarding to upstream {} ({})",
            lc.address, listeners_.back()->local_endpoint().port(),
            lc.client_auth.mode == config::ClientAuthMode::required ? "required" : "optional",
            runtime->upstream->name(), runtime->upstream->server(0).url);
    }
}

void Daemon::open_admin() {
    const auto metrics = [this] {
        auto families = collect_metrics(metrics_sources(parts_));
        for (auto& family : reload_metrics(reload_status_)) families.push_back(std::move(family));
        return families;
    };
    // /healthz: the process can serve (accept loops running, logged in to the KDC); /readyz also
    // needs the directory and an Exchange server, so a load balancer sends devices elsewhere.
    const auto healthz = [this] {
        std::vector<std::string> reasons;
        for (const auto& l : listeners_)
            if (auto reason = l->not_accepting_reason()) reasons.push_back(std::move(*reason));
        // A reload's new delegation service logging in is ready when the one it replaced was: every
        // node of a pool reloaded at once (a rotated keytab) would leave the load balancer together.
        const bool stand_in = std::chrono::steady_clock::now() < delegation_stand_in_until_ &&
                              parts_.delegation && parts_.delegation->logging_in();
        if (parts_.delegation && !stand_in)
            if (auto reason = parts_.delegation->not_ready_reason()) reasons.push_back(std::move(*reason));
        return reasons;
    };
    const auto readyz = [this, healthz] {
        auto reasons = healthz();
        if (parts_.sessions->draining())
            reasons.insert(reasons.begin(), "draining: easgate is shutting down");
        if (parts_.directory)
            if (auto reason = parts_.directory->not_ready_reason())
                reasons.push_back("directory: " + *reason);
        for (const auto& u : parts_.upstreams)
            if (!u->any_server_ready())
                reasons.push_back("upstream " + u->name() +
                                  ": every server is failing its health check or resting after failures");
        return reasons;
    };
    try {
        admin_ = std::make_unique<admin::AdminServer>(
            accept_context_, *common::parse_listen_address(parts_.config.admin.listen), metrics, healthz,
            readyz);
    } catch (const std::runtime_error& e) {
        throw config::ConfigError(std::string("admin.listen: ") + e.what());
    }
    spdlog::info("admin endpoint on http://{}:{} (/metrics, /healthz, /readyz)",
                 admin_->local_endpoint().address().to_string(), admin_->local_endpoint().port());
}

// The KDC login, the upstream lookups and health checks and the CRL refresh of what replaced (null
// at start) did not already run.
void Daemon::start_background_work(const GatewayParts* replaced) {
    // After the listeners: a KDC that doesn't answer delays no start-up, it only keeps /healthz at 503.
    if (parts_.delegation && (!replaced || replaced->delegation != parts_.delegation))
        parts_.delegation->start_login();
    upstream::start_upstream_watch(accept_context_.get_executor(), parts_.upstreams,
                                   replaced ? replaced->upstreams : decltype(parts_.upstreams){});
    // Each listener's revocation store, kept or new, gets a refresher of its own. A kept store's
    // failing points stay counted: easgate_crl_distribution_points_failing doesn't dip at a reload.
    std::map<const identity::RevocationStore*, std::set<std::string>> failing;
    for (auto& refresher : crl_refreshers_) failing[refresher->store()] = refresher->stop();
    crl_refreshers_.clear();
    identity::DirectoryCrlReader directory;
    if (parts_.directory) {
        directory = [this, weak = std::weak_ptr(parts_.directory)](const std::string& url,
                                                                   std::chrono::milliseconds timeout) {
            return read_published(weak, url, timeout);
        };
    }
    for (std::size_t i = 0; i < parts_.config.listeners.size(); ++i) {
        const auto& client_auth = parts_.config.listeners[i].client_auth;
        if (!client_auth.refreshes_crls()) continue;
        crl_refreshers_.push_back(std::make_shared<identity::CrlRefresher>(
            accept_context_.get_executor(), parts_.listeners[i]->tls->revocation(), *client_auth.crl_refresh,
            parts_.crl_refresh, directory, crl_work_.get_executor()));
        crl_refreshers_.back()->start(failing[parts_.listeners[i]->tls->revocation().get()]);
    }
}

// An ldap:/// CRL location, read from the directory the refresher was started with. Should a reload
// retire that directory meanwhile, this read may hold it last: it is let go on retirement_, where
// its threads may be joined, never on the accept thread.
asio::awaitable<common::Result<std::string>> Daemon::read_published(
    std::weak_ptr<directory::DirectoryClient> weak, std::string url, std::chrono::milliseconds timeout) {
    auto directory = weak.lock();
    if (!directory) co_return common::Failure::unavailable("a reload replaced the directory");
    auto read = co_await directory->read_published(std::move(url), timeout);
    asio::post(retirement_, [directory = std::move(directory)] {});
    co_return read;
}

void Daemon::stop_now() {
    admin_->stop();
    for (auto& w : workers_.contexts) w->stop();
    accept_context_.stop();
}

void Daemon::check_drained() {
    const auto open = parts_.sessions->size();
    if (open == 0 || std::chrono::steady_clock::now() >= drain_deadline_) {
        if (open > 0) spdlog::warn("limits.shutdown_grace passed: closing {} connections", open);
        stop_now();
        return;
    }
    drain_check_.expires_after(std::chrono::milliseconds(50));
    drain_check_.async_wait([this](const boost::system::error_code& ec) {
        if (!ec) check_drained();
    });
}

// SIGTERM/SIGINT: /readyz turns 503 ("draining") and, after limits.shutdown_delay (a load
// balancer's health check takes the node out meanwhile, and what it still sends is served), stop
// accepting, let requests in flight finish, answer held long polls early, and stop once every
// connection has closed or limits.shutdown_grace has passed. A second signal stops at once.
void Daemon::on_stop_signal() {
    stop_signals_.async_wait([this](const boost::system::error_code& ec, int signal) {
        if (ec) return;
        common::notify_stopping();
        const auto& limits = parts_.config.limits;
        spdlog::info("received signal {}: draining {} device connections (at most {}){}", signal,
                     parts_.sessions->size(), config::format_duration(limits.shutdown_grace),
                     limits.shutdown_delay.count() > 0
                         ? ", accepting for limits.shutdown_delay (" +
                               config::format_duration(limits.shutdown_delay) + ") first"
                         : "");
        hangup_.cancel();
        drain_deadline_ = std::chrono::steady_clock::now() + limits.shutdown_delay + limits.shutdown_grace;
        parts_.sessions->drain_all();
        const auto stop_accepting = [this] {
            for (auto& l : listeners_) l->stop();
            check_drained();
        };
        if (limits.shutdown_delay.count() == 0) {
            stop_accepting();
        } else {
            drain_check_.expires_after(limits.shutdown_delay);
            drain_check_.async_wait([stop_accepting](const boost::system::error_code& waited) {
                if (!waited) stop_accepting();
            });
        }
        stop_signals_.async_wait([this](const boost::system::error_code& again, int) {
            if (!again) stop_now();
        });
    });
}

// SIGHUP: the configuration file and every file it names are read again; new connections get the
// result, open ones keep what they started with. Anything that doesn't load keeps all as it was.
void Daemon::reload() {
    hangup_.async_wait([this](const boost::system::error_code& ec, int) {
        if (ec) return;
        common::notify_reloading();
        common::reopen_access_log();  // logrotate's postrotate: whatever the configuration holds
        reload_status_.last_attempt_unix = unix_now();
        try {
            auto next = config::load_config(config_path_);
            if (next.listeners.size() != parts_.config.listeners.size())
                throw config::ConfigError("listeners: " + std::to_string(next.listeners.size()) +
                                          " configured, " + std::to_string(parts_.config.listeners.size()) +
                                          " open; adding or removing a listener needs a restart");
            for (const auto& change : restart_only_changes(parts_.config, next))
                spdlog::warn("reload: {}: takes effect at the next restart; keeping the running value",
                             change);
            install(build_gateway(keep_restart_only_settings(std::move(next), parts_.config), &parts_));
            ++reload_status_.successes;
            reload_status_.last_succeeded = true;
            reload_status_.last_success_unix = reload_status_.last_attempt_unix;
        } catch (const config::ConfigError& e) {
            ++reload_status_.failures;
            reload_status_.last_succeeded = false;
            spdlog::error("reload of {} failed, the running configuration stays in use: {}",
                          config_path_.string(), e.what());
        }
        common::notify_ready();
        reload();
    });
}

void Daemon::install(GatewayParts next) {
    spdlog::set_level(spdlog::level::from_str(next.config.logging.level));
    auto replaced = std::exchange(parts_, std::move(next));
    if (replaced.delegation != parts_.delegation && parts_.delegation) {
        // One kerberos.timeout from the reload that replaced a logged-in service: reloads in a row
        // each logging in anew don't stretch it.
        const auto now = std::chrono::steady_clock::now();
        const auto until = now + parts_.config.kerberos->timeout;
        if (replaced.delegation && !replaced.delegation->not_ready_reason())
            delegation_stand_in_until_ = until;
        else if (now < delegation_stand_in_until_)
            delegation_stand_in_until_ = std::min(delegation_stand_in_until_, until);
    }
    take_up(parts_.config);
    for (std::size_t i = 0; i < listeners_.size(); ++i) listeners_[i]->use(parts_.listeners[i]);
    start_background_work(&replaced);
    spdlog::info("reloaded {}: new connections use it; {} open connections keep the previous one",
                 config_path_.string(), parts_.sessions->size());
    retired_.push_back(std::move(replaced));
    sweep_retired();
}

// A replaced set is released once no connection holds its listeners' runtimes (each open
// connection holds its own); until then it is looked at every few seconds.
void Daemon::sweep_retired() {
    const auto unused =
        std::stable_partition(retired_.begin(), retired_.end(), [](const GatewayParts& parts) {
            return std::any_of(parts.listeners.begin(), parts.listeners.end(),
                               [](const auto& runtime) { return runtime.use_count() > 1; });
        });
    if (unused != retired_.end()) {
        std::vector<GatewayParts> released(std::make_move_iterator(unused),
                                           std::make_move_iterator(retired_.end()));
        retired_.erase(unused, retired_.end());
        asio::post(retirement_, [released = std::move(released)]() mutable { released.clear(); });
    }
    if (retired_.empty()) return;
    retire_sweep_.expires_after(std::chrono::seconds(5));
    retire_sweep_.async_wait([this](const boost::system::error_code& ec) {
        if (!ec) sweep_retired();
    });
}

int Daemon::run() {
    for (auto& l : listeners_) l->start();
    admin_->start();
    start_background_work(nullptr);
    on_stop_signal();
    reload();

    std::vector<std::thread> threads;
    for (auto& w : workers_.contexts) threads.emplace_back([&context = *w] { context.run(); });
    spdlog::info("easgate {} started with {} worker threads", EASGATE_VERSION, worker_count_);
    common::notify_ready();
    accept_context_.run();
    for (auto& t : threads) t.join();
    // Requests cut off by shutdown_grace while they waited for a DC or the KDC (gateway.hpp).
    stop_waiting(parts_);
    for (auto& parts : retired_) stop_waiting(parts);
    spdlog::info("easgate stopped");
    return 0;
}

}  // namespace

int run_gateway(const config::Config& config, const std::filesystem::path& config_path) {
    return Daemon(config, config_path).run();
}

}  // namespace easgate::app
