// easgate-loadgen: simulated ActiveSync devices, each with its own client certificate and UPN,
// against easgate, nginx or the upstream directly. See bench/README.md.
#include <CLI/CLI.hpp>
#include <boost/asio/co_spawn.hpp>
#include <fstream>
#include <iostream>

#include "scenarios.hpp"

namespace easgate::bench {
namespace {

void add_options(CLI::App& cli, Options& o) {
    cli.add_option("--scenario", o.scenario, "sync | handshake | ping-hold | sendmail | cold-start")
        ->check(CLI::IsMember({"sync", "handshake", "ping-hold", "sendmail", "cold-start"}));
    cli.add_option("--host", o.host, "target address (an IP address)");
    cli.add_option("--port", o.port, "target port")->required();
    cli.add_option("--sni", o.sni, "TLS server name to send");
    cli.add_option("--server-ca", o.server_ca, "verify the target's certificate against this CA bundle");
    cli.add_option("--client-ca-cert", o.client_ca_cert, "issuing CA certificate (PEM)")->required();
    cli.add_option("--client-ca-key", o.client_ca_key, "issuing CA private key (PEM)")->required();
    cli.add_option("--upn-pattern", o.upn_pattern, "device UPNs; {n} is the device's number");
    cli.add_option("--first-device", o.first_device, "number of the first device");
    cli.add_option("--devices", o.devices, "ping-hold: Pings held; cold-start: cold users");
    cli.add_option("--concurrency", o.concurrency, "devices looping (cold-start: warm users)");
    cli.add_option("--threads", o.threads, "sync, handshake, sendmail: threads the devices are spread over")
        ->check(CLI::Range(1u, 64u));
    cli.add_option("--duration", o.duration, "seconds of load");
    cli.add_option("--rate", o.rate, "requests per second in all (0: back to back)");
    cli.add_flag("--resume", o.resume, "handshake: offer each device's previous TLS session");
    cli.add_option("--body-size", o.body_size, "request body bytes (sync 1 KiB, sendmail 1 MiB)");
    cli.add_option("--hold", o.hold, "ping-hold: seconds to hold (or until SIGUSR1)");
    cli.add_option("--settle", o.settle, "ping-hold: seconds after the last Ping before 'held'");
    cli.add_option("--sync-concurrency", o.sync_concurrency, "ping-hold: devices syncing after SIGUSR2");
    cli.add_option("--connect-parallel", o.connect_parallel, "connections opened at once");
    cli.add_option("--timeout", o.timeout, "seconds for a connect, a handshake, a request");
    cli.add_option("--json", o.json_file, "write the results here (default: stdout)");
    cli.add_option("--label", o.label, "the target's name in the results");
}

asio::ssl::context client_tls(const Options& options) {
    asio::ssl::context tls(asio::ssl::context::tls_client);
    // The devices send their issuing CA along, as AD CS-enrolled phones do.
    if (SSL_CTX_add_extra_chain_cert(tls.native_handle(),
                                     read_certificate(options.client_ca_cert).release()) != 1)
        throw std::runtime_error("cannot add the issuing CA to the client chain");
    if (!options.server_ca.empty()) {
        tls.load_verify_file(options.server_ca);
        tls.set_verify_mode(asio::ssl::verify_peer);
    }
    return tls;
}

asio::awaitable<nlohmann::json> run_scenario(const Run& run, const std::vector<Device>& devices) {
    if (run.options.scenario == "ping-hold") co_return co_await run_ping_hold(run, devices);
    if (run.options.scenario == "cold-start") co_return co_await run_cold_start(run, devices);
    co_return co_await run_request_loops(run, devices);
}

nlohmann::json options_json(const Options& o, unsigned devices) {
    return {{"scenario", o.scenario},
            {"label", o.label},
            {"target", o.host + ":" + std::to_string(o.port)},
            {"devices", devices},
            {"concurrency", o.concurrency},
            {"threads", o.threads},
            {"duration", o.duration},
            {"rate", o.rate},
            {"resume", o.resume},
            {"body_size", o.body_size}};
}

int run(const Options& options) {
    const auto minting = Clock::now();
    const auto devices = mint_devices(options.client_ca_cert, options.client_ca_key, options.upn_pattern,
                                      options.first_device, devices_needed(options));
    std::cerr << "minted " << devices.size() << " device certificates in " << seconds_since(minting)
              << " s\n";
    asio::io_context io(1);
    auto tls = client_tls(options);
    const Run run{
        io,
        tls,
        {asio::ip::make_address(options.host), options.port},
        options,
        std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(options.timeout))};
    nlohmann::json result;
    asio::co_spawn(io, run_scenario(run, devices), [&](std::exception_ptr error, nlohmann::json value) {
        if (error) std::rethrow_exception(error);
        result = std::move(value);
        io.stop();  // held Pings and other waits end with the process
    });
    io.run();
    result["options"] = options_json(options, static_cast<unsigned>(devices.size()));
    if (options.json_file.empty() || options.json_file == "-") {
        std::cout << result.dump(2) << std::endl;
    } else {
        std::ofstream(options.json_file) << result.dump(2) << "\n";
    }
    return 0;
}

}  // namespace
}  // namespace easgate::bench

int main(int argc, char** argv) {
    easgate::bench::Options options;
    CLI::App cli{"easgate-loadgen: simulated ActiveSync devices, each with its own client certificate"};
    easgate::bench::add_options(cli, options);
    CLI11_PARSE(cli, argc, argv);
    try {
        return easgate::bench::run(options);
    } catch (const std::exception& error) {
        std::cerr << "easgate-loadgen: " << error.what() << "\n";
        return 2;
    }
}
