#pragma once

// A real easgate process for end-to-end tests: started from a configuration text, waited for
// until it serves, stopped (and its log kept) when the object goes away.

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "child_process.hpp"

namespace easgate::testing {

class EasgateProcess {
public:
    // Writes config_yaml to work_dir/easgate.yaml and runs `easgate run` on it; log in easgate.err.
    // prefix: a command that runs easgate by exec, keeping the pid (env LD_PRELOAD=…).
    EasgateProcess(const std::filesystem::path& work_dir, const std::string& config_yaml,
                   const std::vector<std::string>& prefix = {});

    bool started() const { return started_; }
    std::string log() const;
    // "http://127.0.0.1:PORT" of the admin endpoint (/metrics, /healthz), "" if it never said.
    std::string admin_url() const;
    // The port of each device listener, in the configuration's order, as the log names them: a test
    // configures `port: 0` and the kernel picks free ports, so parallel tests never race for one.
    std::vector<std::uint16_t> device_ports() const;
    // Waits until the log contains needle; the log then, or "" on timeout.
    std::string wait_for_log(const std::string& needle,
                             std::chrono::milliseconds timeout = std::chrono::seconds(5)) const;
    int stop() { return process_->stop(); }
    pid_t pid() const { return process_->pid(); }

private:
    std::filesystem::path log_file_;
    std::unique_ptr<ChildProcess> process_;
    bool started_ = false;
};

// A device's request with curl: --cacert for the gateway, --cert/--key when cert is not empty.
CommandResult curl_as_device(const std::string& url, const std::filesystem::path& gateway_ca,
                             const std::filesystem::path& cert, const std::filesystem::path& key,
                             std::vector<std::string> extra = {});

}  // namespace easgate::testing
