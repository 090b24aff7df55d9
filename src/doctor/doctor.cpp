#include "easgate/doctor/doctor.hpp"

#include <spdlog/spdlog.h>

#include <cstdlib>

#include "checks.hpp"
#include "easgate/config/config.hpp"

namespace easgate::doctor {

Report run_doctor(const DoctorOptions& options) {
    Report report;
    config::Config config;
    try {
        config = config::load_config(options.config_path);
    } catch (const config::ConfigError& e) {
        report.fail(
            "config", "configuration file", e.what(),
            "correct what the message names; every key, its default and purpose are in easgate.example.yaml");
        return report;
    }
    report.pass("config", "configuration file", options.config_path + " is valid");
    // krb5 reads its configuration path from the environment, as `easgate run` sets it.
    if (config.kerberos && !config.kerberos->krb5_conf.empty())
        setenv("KRB5_CONFIG", config.kerberos->krb5_conf.c_str(), 1);

    // The request path's log lines would interleave with the report (and break --json); each finding
    // carries what they would say.
    spdlog::set_level(spdlog::level::off);
    SharedDirectory shared(config);
    const auto listeners = check_listeners(config, options.certificate, shared, report);
    check_kerberos(config, report);
    check_directory(config, report);
    check_ntauth(config, report);
    check_exchange_device_lists(config, report);
    check_delegation_setup(config, report);
    check_exchange_servers(config, report);
    if (options.user) check_user(config, *options.user, shared, report);
    if (options.certificate)
        check_device_certificate(config, listeners, *options.certificate, shared, report);
    return report;
}

}  // namespace easgate::doctor
