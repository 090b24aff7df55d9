#pragma once

// The scenarios easgate-loadgen runs; each returns its results as JSON (Stats::to_json and what the
// scenario adds) and prints a one-line summary to stderr.

#include <boost/asio/awaitable.hpp>
#include <nlohmann/json.hpp>
#include <vector>

#include "loops.hpp"

namespace easgate::bench {

// sync, handshake and sendmail: --concurrency devices looping for --duration.
asio::awaitable<nlohmann::json> run_request_loops(const Run& run, const std::vector<Device>& devices);
// --devices users' first requests at once while --concurrency warm users keep syncing.
asio::awaitable<nlohmann::json> run_cold_start(const Run& run, const std::vector<Device>& devices);
// --devices Pings held until --hold or SIGUSR1; SIGUSR2 starts --sync-concurrency devices syncing.
asio::awaitable<nlohmann::json> run_ping_hold(const Run& run, const std::vector<Device>& devices);

// How many devices the scenario needs minted.
unsigned devices_needed(const Options& options);

double seconds_since(Clock::time_point start);

}  // namespace easgate::bench
