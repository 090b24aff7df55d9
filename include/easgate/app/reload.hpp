#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "easgate/admin/metrics.hpp"
#include "easgate/config/config.hpp"

namespace easgate::app {

// Settings a running process can't take from a reload: the sockets it listens on, its threads, its
// log's format and krb5's environment. Each difference between running and next is a sentence naming the key.
std::vector<std::string> restart_only_changes(const config::Config& running, const config::Config& next);

// next, with running's values for the settings restart_only_changes compares.
config::Config keep_restart_only_settings(config::Config next, const config::Config& running);

// Files a long-lived service reads once (a keytab, a CA file), by path: a digest of their bytes, ""
// for an unreadable one. A reload rebuilds the service when its section or one of its files changed.
using FileDigests = std::map<std::string, std::string>;
std::string file_digest(const std::string& path);
// Each non-empty path and its digest, added to digests; true when every one equals before's.
bool record_unchanged(const std::vector<std::string>& paths, const FileDigests& before, FileDigests& digests);

// What the last SIGHUP did, for /metrics. Read and written on the accept thread only.
struct ReloadStatus {
    std::uint64_t successes = 0;
    std::uint64_t failures = 0;
    std::uint64_t last_attempt_unix = 0;  // seconds since the epoch; 0: never reloaded
    std::uint64_t last_success_unix = 0;  // the start, until a reload succeeds
    bool last_succeeded = true;
};

std::vector<admin::MetricFamily> reload_metrics(const ReloadStatus& status);

}  // namespace easgate::app
