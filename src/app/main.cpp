// easgate: Exchange ActiveSync gateway with device-certificate authentication.
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <cstdlib>
#include <iostream>
#include <optional>

#include "easgate/app/gateway.hpp"
#include "easgate/common/heap_tuning.hpp"
#include "easgate/common/logging.hpp"
#include "easgate/common/openssl_memory.hpp"
#include "easgate/common/resource_shortage.hpp"
#include "easgate/config/config.hpp"
#include "easgate/doctor/doctor.hpp"
#include "easgate/kerberos/kdc_order.hpp"

namespace {

// Before any static object's constructor (Asio's OpenSSL initialisation among them) lets OpenSSL
// allocate: its allocator hooks can only be set while it has allocated nothing.
[[gnu::constructor(101)]] void route_openssl_memory() { easgate::common::openssl_memory::install(); }

void log_heap_tuning(const easgate::common::HeapTuning& tuning) {
    if (tuning.applied) {
        spdlog::debug(
            "memory: read-ahead buffers stay in the heap between uploads (glibc mmap_threshold {} "
            "bytes, trim_threshold {} bytes)",
            tuning.mmap_threshold, tuning.trim_threshold);
    } else {
        spdlog::info(
            "memory: glibc's allocator keeps its settings (GLIBC_TUNABLES sets glibc.malloc options, "
            "or another allocator is in use): each upload's read-ahead buffer may be fresh memory, "
            "which costs CPU per upload; to let easgate keep them, remove the glibc.malloc.* entries "
            "from GLIBC_TUNABLES (docs/forwarding.md)");
    }
}

// Each device connection may hold one to Exchange too; the rest is for listeners, the directory,
// the KDC, CRL fetches and logs.
void log_open_file_limit(const std::optional<easgate::common::OpenFileLimit>& limit,
                         std::size_t max_connections) {
    if (!limit) return;
    if (limit->now != limit->before)
        spdlog::info("file descriptors: soft limit raised from {} to the hard limit, {}", limit->before,
                     limit->now);
    const std::uint64_t wanted = 2 * static_cast<std::uint64_t>(max_connections) + 1024;
    if (limit->now < wanted)
        spdlog::warn(
            "file descriptors: the limit is {}, and limits.max_connections ({}) device connections with "
            "their Exchange connections may need {}: connections beyond it fail at accept. Raise "
            "LimitNOFILE in the systemd unit (docker run --ulimit nofile=…, ulimit -Hn in a shell), or "
            "lower limits.max_connections",
            limit->now, max_connections, wanted);
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App cli{"easgate: an Exchange ActiveSync gateway with client-certificate authentication"};
    cli.set_version_flag("--version", std::string("easgate ") + EASGATE_VERSION);
    cli.require_subcommand(1);
    std::string config_path;
    auto* run = cli.add_subcommand("run", "run the gateway in the foreground (logs to stderr)");
    run->add_option("--config,-c", config_path, "configuration file")->required();
    auto* check =
        cli.add_subcommand("check-config", "validate a configuration and print it with defaults filled in");
    check->add_option("--config,-c", config_path, "configuration file")->required();
    easgate::doctor::DoctorOptions doctor_options;
    bool doctor_json = false;
    auto* doctor = cli.add_subcommand(
        "doctor",
        "check the deployment (TLS, keytab, KDC, delegation in AD, directory); exit 1 if a check fails");
    doctor->add_option("--config,-c", doctor_options.config_path, "configuration file")->required();
    doctor->add_option("--user", doctor_options.user, "also try this user end to end (UPN)");
    doctor->add_option("--certificate", doctor_options.certificate,
                       "also check this device certificate (PEM)");
    doctor->add_flag("--json", doctor_json, "print the findings as JSON");
    CLI11_PARSE(cli, argc, argv);

    if (doctor->parsed()) {
        easgate::common::configure_logging("warn", false);  // the report is the output
        const auto report = easgate::doctor::run_doctor(doctor_options);
        std::cout << (doctor_json ? report.json() : report.text());
        return report.failed() ? 1 : 0;
    }

    try {
        const auto config = easgate::config::load_config(config_path);
        // krb5 reads its configuration path from the environment: set it before any thread starts.
        if (config.kerberos && !config.kerberos->krb5_conf.empty()) {
            setenv("KRB5_CONFIG", config.kerberos->krb5_conf.c_str(), 1);
        }
        if (check->parsed()) {
            easgate::app::build_gateway(config);  // TLS material and keytab too, not only the YAML
            std::cout << easgate::config::to_yaml(config);
            return 0;
        }
        try {
            easgate::common::configure_logging(config.logging.level,
                                               config.logging.format == easgate::config::LogFormat::json,
                                               config.logging.access_log);
        } catch (const std::runtime_error& e) {
            // Under the packaged unit the file system is read-only but for its LogsDirectory.
            throw easgate::config::ConfigError(
                std::string("logging.access_log: ") + e.what() +
                " (its directory must exist and be writable by easgate's user; the packaged unit makes "
                "/var/log/easgate so and lets easgate write nowhere else)");
        }
        log_heap_tuning(easgate::common::tune_heap_for_uploads(config.limits.upload_read_ahead));
        log_open_file_limit(easgate::common::raise_open_file_limit(), config.limits.max_connections);
        if (easgate::common::openssl_memory::installed())
            spdlog::debug("memory: OpenSSL's record buffers are recycled per thread");
        // Hung KDCs asked last (kerberos::KdcWatch): easgate's file goes before the admin's in
        // KRB5_CONFIG, before any thread starts.
        std::optional<easgate::kerberos::KdcOrderFile> kdc_order;
        if (config.kerberos) {
            try {
                kdc_order.emplace(config.kerberos->krb5_conf);
            } catch (const std::runtime_error& e) {
                spdlog::warn(
                    "kerberos: {}: a hung KDC stays first in every exchange; set TMPDIR to a directory "
                    "easgate's user can write (the packaged unit gives it /run/easgate)",
                    e.what());
            }
        }
        const int status = easgate::app::run_gateway(config, config_path);
        easgate::common::flush_access_log();
        return status;
    } catch (const easgate::config::ConfigError& e) {
        std::cerr << "config error: " << e.what() << "\n";
        return 1;
    }
}
