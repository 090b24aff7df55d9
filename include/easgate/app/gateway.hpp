#pragma once

#include <memory>
#include <vector>

#include "easgate/config/config.hpp"
#include "easgate/listener/device_session.hpp"

namespace easgate::app {

// Builds what each listener's connections share (TLS contexts, upstreams, the filter chain) from a
// validated configuration. Throws config::ConfigError when a certificate, key, CA or CRL file is
// unusable, so `check-config` catches what `run` would trip over.
std::vector<std::shared_ptr<listener::ListenerRuntime>> build_listener_runtimes(const config::Config& config);

// Runs the daemon until SIGINT or SIGTERM; returns the process exit code.
int run_gateway(const config::Config& config);

}  // namespace easgate::app
