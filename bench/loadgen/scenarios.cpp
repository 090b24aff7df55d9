#include "scenarios.hpp"

#include <algorithm>
#include <boost/asio/post.hpp>
#include <iostream>
#include <memory>
#include <thread>

namespace easgate::bench {
namespace {

std::vector<const Device*> slice(const std::vector<Device>& devices, std::size_t first, std::size_t count) {
    std::vector<const Device*> picked;
    for (std::size_t i = first; i < first + count && i < devices.size(); ++i) picked.push_back(&devices[i]);
    return picked;
}

std::size_t body_bytes(const Options& options) {
    if (options.body_size > 0) return options.body_size;
    return options.scenario == "sendmail" ? 1024 * 1024 : 1024;
}

Clock::duration seconds(double value) {
    return std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(value));
}

}  // namespace

double seconds_since(Clock::time_point start) {
    return std::chrono::duration<double>(Clock::now() - start).count();
}

unsigned devices_needed(const Options& options) {
    const unsigned held_or_cold = options.devices > 0 ? options.devices : options.concurrency;
    if (options.scenario == "ping-hold") return held_or_cold + options.sync_concurrency;
    if (options.scenario == "cold-start") return held_or_cold + options.concurrency;
    return options.concurrency;
}

asio::awaitable<nlohmann::json> run_request_loops(const Run& run, const std::vector<Device>& devices) {
    const auto& options = run.options;
    const std::string body(body_bytes(options), 'x');
    const auto mail = sync_body(body.size());
    LoopPlan plan;
    if (options.scenario == "sendmail") {
        plan.command = "SendMail";
        plan.content_type = "message/rfc822";
        plan.body = body;
    } else {
        plan.body = mail;
    }
    plan.connection_per_request = options.scenario == "handshake";
    plan.resume = options.resume;
    const auto start = Clock::now();
    plan.until = start + seconds(options.duration);
    if (options.rate > 0) plan.interval = seconds(options.concurrency / options.rate);
    // Device i runs on thread i % threads: this one (0) and threads of their own, each with its own
    // event loop and Stats, merged at the end. One thread's TLS work alone can be what limits a run.
    const auto picked = slice(devices, 0, options.concurrency);
    const std::size_t threads =
        std::clamp<std::size_t>(options.threads, 1, std::max<std::size_t>(picked.size(), 1));
    std::vector<std::unique_ptr<asio::io_context>> loops;
    std::vector<std::unique_ptr<Run>> runs;
    std::vector<Stats> stats(threads);
    std::vector<std::unique_ptr<Countdown>> done;
    for (std::size_t t = 0; t < threads; ++t) {
        if (t > 0) loops.push_back(std::make_unique<asio::io_context>(1));
        auto& io = t == 0 ? run.io : *loops.back();
        runs.push_back(std::make_unique<Run>(Run{io, run.tls, run.target, options, run.timeout}));
        done.push_back(std::make_unique<Countdown>(io, (picked.size() + threads - 1 - t) / threads));
    }
    for (std::size_t i = 0; i < picked.size(); ++i) {
        start_loops(*runs[i % threads], {picked[i]}, plan, stats[i % threads], *done[i % threads],
                    plan.interval * static_cast<long>(i) / static_cast<long>(picked.size()));
    }
    std::vector<std::thread> workers;
    for (auto& io : loops) workers.emplace_back([&io] { io->run(); });
    co_await done[0]->wait();
    for (auto& worker : workers) worker.join();  // their loops end by plan.until as well
    const double elapsed = seconds_since(start);
    for (std::size_t t = 1; t < threads; ++t) stats[0].merge(stats[t]);
    const Stats& all = stats[0];
    std::cerr << all.summary(options.label + " " + options.scenario, elapsed) << "\n";
    co_return all.to_json(elapsed);
}

asio::awaitable<nlohmann::json> run_cold_start(const Run& run, const std::vector<Device>& devices) {
    const auto& options = run.options;
    const auto body = sync_body(1024);
    const auto warm = slice(devices, 0, options.concurrency);
    const auto cold = slice(devices, options.concurrency, devices.size() - options.concurrency);
    Stats warming;
    co_await first_requests(run, warm, body, warming);  // their directory entries and tickets are cached
    LoopPlan plan;
    plan.body = body;
    plan.until = Clock::time_point::max();
    if (options.rate > 0) plan.interval = seconds(options.concurrency / options.rate);
    // The warm users run on a thread of their own: the storm's client-side handshakes on this one
    // would otherwise delay their answers here, and their latency is to be the gateway's.
    asio::io_context warm_io(1);
    const Run warm_run{warm_io, run.tls, run.target, options, run.timeout};
    Stats warm_stats;
    Stats cold_stats;
    Countdown warm_done(warm_io, warm.size());
    const auto start = Clock::now();
    start_loops(warm_run, warm, plan, warm_stats, warm_done);
    std::thread warm_thread([&warm_io] { warm_io.run(); });
    co_await first_requests(run, cold, body, cold_stats);
    const double storm = seconds_since(start);
    asio::post(warm_io, [&plan] { plan.until = Clock::now(); });  // read by the warm loops' thread only
    warm_thread.join();
    std::cerr << cold_stats.summary(options.label + " cold-start (first requests)", storm) << "\n"
              << warm_stats.summary(options.label + " cold-start (warm users meanwhile)", storm) << "\n";
    auto result = cold_stats.to_json(storm);
    result["warm"] = warm_stats.to_json(storm);
    result["warming_errors"] = warming.failures();
    co_return result;
}

}  // namespace easgate::bench
