// easgate: Exchange ActiveSync gateway with device-certificate authentication.
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <cstdlib>
#include <iostream>

#include "easgate/app/gateway.hpp"
#include "easgate/common/logging.hpp"
#include "easgate/config/config.hpp"

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
    CLI11_PARSE(cli, argc, argv);

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
        easgate::common::configure_logging(config.logging.level,
                                           config.logging.format == easgate::config::LogFormat::json);
        return easgate::app::run_gateway(config);
    } catch (const easgate::config::ConfigError& e) {
        std::cerr << "config error: " << e.what() << "\n";
        return 1;
    }
}
