#pragma once

// The building blocks of the scenarios, all on one io_context: a device's request loop (kept-alive
// or a new connection per request), a device's single first request, and a countdown to wait for
// a set of them.

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "device_connection.hpp"
#include "options.hpp"
#include "stats.hpp"

namespace easgate::bench {

// What every device of a run shares.
struct Run {
    asio::io_context& io;
    asio::ssl::context& tls;
    asio::ip::tcp::endpoint target;
    const Options& options;
    Clock::duration timeout;
};

struct LoopPlan {
    std::string command = "Sync";
    std::string_view body;
    std::string content_type = "application/vnd.ms-sync.wbxml";
    bool connection_per_request = false;  // handshake: each request on a new TLS connection
    bool resume = false;                  // with it: offer the device's previous session
    Clock::time_point until;              // no request starts after this (may be moved earlier)
    Clock::duration interval{};           // per device between request starts; zero: back to back
};

// Waits until arrive() was called `remaining` times.
class Countdown {
public:
    Countdown(asio::io_context& io, std::size_t remaining);
    void arrive();
    asio::awaitable<void> wait();

private:
    std::size_t remaining_;
    asio::steady_timer timer_;
};

asio::awaitable<void> pause(Clock::duration duration);

// Requests as the plan says until plan.until, the first `offset` after now (spreading a rate over
// the devices); each success or failure goes to stats. The plan is read as the loop goes: plan.until
// may be moved earlier from the loop's thread.
asio::awaitable<void> request_loop(const Run& run, const Device& device, const LoopPlan& plan, Stats& stats,
                                   Clock::duration offset);

// Starts request_loop for each device in the background on run.io; done arrives once per device.
void start_loops(const Run& run, const std::vector<const Device*>& devices, const LoopPlan& plan,
                 Stats& stats, Countdown& done, Clock::duration offset = {});

// A device's first request on a new connection, timed from connect to the end of the answer.
asio::awaitable<void> first_request(const Run& run, const Device& device, std::string_view body,
                                    Stats& stats);

// first_request for each device, at most Options::connect_parallel at once; returns when all are done.
asio::awaitable<void> first_requests(const Run& run, const std::vector<const Device*>& devices,
                                     std::string_view body, Stats& stats);

// A WBXML Sync of the given size (no Wait or HeartbeatInterval: answered at once).
std::string sync_body(std::size_t bytes);

}  // namespace easgate::bench
