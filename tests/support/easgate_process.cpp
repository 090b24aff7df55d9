#include "easgate_process.hpp"

#include "test_pki.hpp"

namespace easgate::testing {

EasgateProcess::EasgateProcess(const std::filesystem::path& work_dir, const std::string& config_yaml,
                               const std::vector<std::string>& prefix)
    : log_file_(work_dir / "easgate.err") {
    // Tests run side by side: unless a test chose one, the admin endpoint takes a free port.
    const bool has_admin =
        config_yaml.starts_with("admin:") || config_yaml.find("\nadmin:") != std::string::npos;
    write_file(work_dir / "easgate.yaml",
               has_admin ? config_yaml : config_yaml + "admin:\n  listen: 127.0.0.1:0\n");
    std::vector<std::string> argv = prefix;
    argv.insert(argv.end(), {EASGATE_BINARY, "run", "--config", (work_dir / "easgate.yaml").string()});
    process_ = std::make_unique<ChildProcess>(argv, work_dir / "easgate.out", log_file_);
    started_ = !wait_for_log("worker threads", std::chrono::seconds(20)).empty();
}

std::string EasgateProcess::log() const { return read_file(log_file_); }

std::string EasgateProcess::admin_url() const {
    const std::string marker = "admin endpoint on ";
    const auto text = wait_for_log(marker);
    const auto at = text.find(marker);
    if (at == std::string::npos) return "";
    const auto start = at + marker.size();
    return text.substr(start, text.find(' ', start) - start);
}

std::vector<std::uint16_t> EasgateProcess::device_ports() const {
    // "listening on 127.0.0.1:41235 for devices ..."
    std::vector<std::uint16_t> ports;
    const auto text = log();
    for (auto at = text.find("listening on "); at != std::string::npos;
         at = text.find("listening on ", at + 1)) {
        const auto end = text.find(" for devices", at);
        const auto colon = text.rfind(':', end);
        if (end == std::string::npos || colon == std::string::npos || colon < at) continue;
        ports.push_back(static_cast<std::uint16_t>(std::stoi(text.substr(colon + 1, end - colon - 1))));
    }
    return ports;
}

std::string EasgateProcess::wait_for_log(const std::string& needle, std::chrono::milliseconds timeout) const {
    return wait_for_text(log_file_, needle, timeout);
}

CommandResult curl_as_device(const std::string& url, const std::filesystem::path& gateway_ca,
                             const std::filesystem::path& cert, const std::filesystem::path& key,
                             std::vector<std::string> extra) {
    std::vector<std::string> argv{"curl", "--silent", "--show-error",     "--max-time",
                                  "60",   "--cacert", gateway_ca.string()};
    if (!cert.empty()) argv.insert(argv.end(), {"--cert", cert.string(), "--key", key.string()});
    argv.insert(argv.end(), extra.begin(), extra.end());
    argv.push_back(url);
    return run_command(argv);
}

}  // namespace easgate::testing
