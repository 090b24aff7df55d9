#include "easgate/app/reload.hpp"

#include <openssl/evp.h>

#include <fstream>
#include <iterator>

#include "easgate/common/text.hpp"

namespace easgate::app {

std::vector<std::string> restart_only_changes(const config::Config& running, const config::Config& next) {
    std::vector<std::string> changes;
    if (running.listeners.size() != next.listeners.size()) {
        changes.push_back("listeners: " + std::to_string(next.listeners.size()) + " configured, " +
                          std::to_string(running.listeners.size()) + " open");
    } else {
        for (std::size_t i = 0; i < next.listeners.size(); ++i) {
            const auto& was = running.listeners[i];
            const auto& now = next.listeners[i];
            if (was.address != now.address || was.port != now.port)
                changes.push_back("listeners[" + std::to_string(i) + "].address/port: " + now.address + ":" +
                                  std::to_string(now.port) + " configured, " + was.address + ":" +
                                  std::to_string(was.port) + " open");
        }
    }
    if (running.workers != next.workers)
        changes.push_back("workers: " + std::to_string(next.workers) + " configured, " +
                          std::to_string(running.workers) + " running");
    if (running.admin.listen != next.admin.listen)
        changes.push_back("admin.listen: " + next.admin.listen + " configured, " + running.admin.listen +
                          " open");
    if (running.logging.format != next.logging.format)
        changes.push_back("logging.format: the log's format is chosen once, at start");
    if (running.logging.access_log != next.logging.access_log)
        changes.push_back("logging.access_log: " + next.logging.access_log + " configured, " +
                          running.logging.access_log + " open (a reload reopens the file at its path)");
    const auto krb5_conf = [](const config::Config& c) { return c.kerberos ? c.kerberos->krb5_conf : ""; };
    if (krb5_conf(running) != krb5_conf(next))
        changes.push_back("kerberos.krb5_conf: " + krb5_conf(next) + " configured, " + krb5_conf(running) +
                          " in use (krb5 reads it from the environment, set once at start)");
    return changes;
}

config::Config keep_restart_only_settings(config::Config next, const config::Config& running) {
    // Listeners are matched by position; a reload that adds or removes one is refused before this.
    for (std::size_t i = 0; i < next.listeners.size() && i < running.listeners.size(); ++i) {
        next.listeners[i].address = running.listeners[i].address;
        next.listeners[i].port = running.listeners[i].port;
    }
    next.workers = running.workers;
    next.admin.listen = running.admin.listen;
    next.logging.format = running.logging.format;
    next.logging.access_log = running.logging.access_log;
    if (next.kerberos) next.kerberos->krb5_conf = running.kerberos ? running.kerberos->krb5_conf : "";
    return next;
}

std::string file_digest(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return {};
    const std::string bytes{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int length = 0;
    if (EVP_Digest(bytes.data(), bytes.size(), digest, &length, EVP_sha256(), nullptr) != 1) return {};
    return common::hex_encode(std::span<const std::uint8_t>(digest, length));
}

bool record_unchanged(const std::vector<std::string>& paths, const FileDigests& before,
                      FileDigests& digests) {
    bool unchanged = true;
    for (const auto& path : paths) {
        if (path.empty()) continue;
        const auto digest = file_digest(path);
        digests[path] = digest;
        const auto was = before.find(path);
        if (was == before.end() || was->second != digest) unchanged = false;
    }
    return unchanged;
}

std::vector<admin::MetricFamily> reload_metrics(const ReloadStatus& status) {
    using Type = admin::MetricFamily::Type;
    return {
        {"easgate_config_last_reload_successful",
         "1 when the last SIGHUP reload (or the start) succeeded",
         Type::gauge,
         {{"", status.last_succeeded ? 1u : 0u}}},
        {"easgate_config_last_reload_success_timestamp_seconds",
         "when the running configuration was loaded (Unix time)",
         Type::gauge,
         {{"", status.last_success_unix}}},
        {"easgate_config_reloads_total",
         "SIGHUP reloads by outcome",
         Type::counter,
         {{"result=\"success\"", status.successes}, {"result=\"failure\"", status.failures}}},
    };
}

}  // namespace easgate::app
