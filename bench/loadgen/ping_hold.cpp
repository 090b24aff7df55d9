// ping-hold: --devices devices each open a connection and send a Ping the upstream holds. Once all
// are written (and --settle later) "held N" goes to stdout: bench/run.sh samples the proxy's memory
// then. SIGUSR2 starts --sync-concurrency other devices syncing for --duration ("sync done" when
// they finish); SIGUSR1, SIGINT, SIGTERM or --hold seconds end the run.
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <csignal>
#include <iostream>
#include <memory>

#include "easgate/common/use_nothrow.hpp"
#include "scenarios.hpp"

namespace easgate::bench {
namespace {

using namespace asio::experimental::awaitable_operators;
using easgate::common::use_nothrow;

struct Hold {
    Stats pings;  // a Ping counts as a success once written; answered before the end: a failure
    std::size_t held = 0;
    bool ending = false;
};

// A Ping asking for 59 minutes (HeartbeatInterval 3540, code page 13), as phones send.
std::string ping_body() {
    return {
        "\x03\x01\x6a\x00\x00\x0d\x45\x48\x03"
        "3540\x00\x01\x01",
        16};
}

asio::awaitable<void> wait_for_answer(std::shared_ptr<DeviceConnection> connection, Hold& hold) {
    const auto reply = co_await connection->read(Clock::duration::zero());
    if (hold.ending) co_return;
    --hold.held;
    hold.pings.failed(reply.error.empty() ? "answered_early" : reply.error);
}

asio::awaitable<void> send_pings(const Run& run, const std::vector<Device>& devices, std::size_t count,
                                 std::size_t& next, Hold& hold) {
    const auto body = ping_body();
    while (next < count) {
        const auto& device = devices[next++];
        auto connection = std::make_shared<DeviceConnection>(run.io.get_executor(), run.tls, device);
        const auto started = Clock::now();
        auto failure = co_await connection->open(run.target, nullptr, run.timeout);
        const auto header = activesync_header(device, "Ping", body.size());
        if (failure.empty()) failure = co_await connection->write(header, body, run.timeout);
        if (!failure.empty()) {
            hold.pings.failed(failure);
            continue;
        }
        hold.pings.succeeded(Clock::now() - started, header.size() + body.size(), 0);
        ++hold.held;
        asio::co_spawn(run.io, wait_for_answer(std::move(connection), hold), asio::detached);
    }
}

asio::awaitable<void> sync_while_held(const Run& run, const std::vector<Device>& devices, std::size_t first,
                                      Stats& stats, double& seconds) {
    const auto& options = run.options;
    const auto body = sync_body(1024);
    LoopPlan plan;
    plan.body = body;
    const auto start = Clock::now();
    plan.until =
        start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(options.duration));
    std::vector<const Device*> syncing;
    for (std::size_t i = first; i < devices.size(); ++i) syncing.push_back(&devices[i]);
    Countdown done(run.io, syncing.size());
    start_loops(run, syncing, plan, stats, done);
    co_await done.wait();
    seconds = seconds_since(start);
    std::cerr << stats.summary(options.label + " sync while Pings held", seconds) << "\n";
    std::cout << "sync done" << std::endl;
}

// Until --hold passes or an ending signal comes; SIGUSR2 starts the sync load on the way.
asio::awaitable<void> wait_for_end(const Run& run, const std::vector<Device>& devices, std::size_t pings,
                                   Stats& sync, double& sync_seconds) {
    asio::signal_set signals(run.io, SIGUSR1, SIGUSR2, SIGINT);
    signals.add(SIGTERM);
    asio::steady_timer hold_timer(
        run.io, std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(run.options.hold)));
    for (;;) {
        auto ended = co_await (signals.async_wait(use_nothrow) || hold_timer.async_wait(use_nothrow));
        if (ended.index() == 1) co_return;
        const auto [ec, signal] = std::get<0>(ended);
        if (ec || signal != SIGUSR2) co_return;
        asio::co_spawn(run.io, sync_while_held(run, devices, pings, sync, sync_seconds), asio::detached);
    }
}

}  // namespace

asio::awaitable<nlohmann::json> run_ping_hold(const Run& run, const std::vector<Device>& devices) {
    const auto& options = run.options;
    const std::size_t pings = devices.size() - options.sync_concurrency;
    Hold hold;
    std::size_t next = 0;
    const auto start = Clock::now();
    const auto lanes = std::min<std::size_t>(pings, std::max(1u, options.connect_parallel));
    {
        Countdown written(run.io, lanes);
        for (std::size_t lane = 0; lane < lanes; ++lane) {
            asio::co_spawn(run.io, send_pings(run, devices, pings, next, hold),
                           [&written](std::exception_ptr) { written.arrive(); });
        }
        co_await written.wait();
    }
    const double open_seconds = seconds_since(start);
    co_await pause(
        std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(options.settle)));
    std::cout << "held " << hold.held << std::endl;
    std::cerr << hold.pings.summary(options.label + " ping-hold (opening)", open_seconds) << "; held "
              << hold.held << "\n";
    Stats sync;
    double sync_seconds = 0;
    co_await wait_for_end(run, devices, pings, sync, sync_seconds);
    hold.ending = true;
    auto result = hold.pings.to_json(open_seconds);
    result["held"] = hold.held;
    result["hold_seconds"] = seconds_since(start);
    if (options.sync_concurrency > 0) result["sync"] = sync.to_json(sync_seconds);
    co_return result;
}

}  // namespace easgate::bench
