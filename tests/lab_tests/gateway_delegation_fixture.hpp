#pragma once

// The gateway started on the loopback lab, and curl as a device, for the delegation tests.

#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "child_process.hpp"
#include "easgate_process.hpp"
#include "lab_environment.hpp"
#include "test_pki.hpp"

// A named namespace, so that GatewayDelegationTest is one class across the test files, as
// googletest requires.
namespace easgate::testing {

// What a test changes in the gateway's configuration.
struct GatewayOptions {
    std::string principal_var = "LAB_EASGATE_PRINCIPAL";  // easgate's account, from lab.env
    std::string keytab_var = "LAB_EASGATE_KEYTAB";
    std::string backend_var = "LAB_MAIL_BASE_URL";  // Negotiate on every request
    std::string upstream_server;                    // replaces it when set
    std::string authenticate = "per_request";
    std::string upstream;        // more YAML lines in the upstream's entry, each "    key: value\n"
    std::string directory_uris;  // empty: the lab DC's LDAPS URL
    std::string directory;       // more YAML lines in the directory section, each "  key: value\n"
    std::string kerberos;        // more YAML lines in the kerberos section
    std::string krb5_conf;       // the lab's when empty
    std::string sections;        // top-level YAML sections, e.g. "identity:\n  mapping: [sid]\n"
    std::string client_auth;     // more YAML lines in the listener's client_auth, each "      key: value\n"
    std::vector<std::string> prefix;  // a command that runs easgate (with_clock_ahead)
};

class GatewayDelegationTest : public ::testing::Test {
protected:
    void SetUp() override {
        work_ = make_temp_dir("lab-e2e");
        // Devices enrolled from the lab's issuing CA (with its root), plus a test CA for UPNs the directory
        // doesn't know.
        test_ca_ = std::make_unique<TestCa>(TestCa::create_root("easgate lab test CA"));
        write_file(work_ / "device-cas.pem", read_file(lab().at("LAB_CA_FILE")) + test_ca_->cert_pem());
    }

    void TearDown() override {
        if (HasFailure() && gateway_) std::cerr << "--- easgate log ---\n" << gateway_->log() << "---\n";
        gateway_.reset();
        std::filesystem::remove_all(work_);
    }

    static const LabEnvironment& lab() { return LabEnvironment::get(); }

    void start_gateway(const GatewayOptions& options = {}) {
        const auto& env = lab();
        const std::string config = "listeners:\n" +
                                   env.listener_yaml(0, (work_ / "device-cas.pem").string()) +
                                   options.client_auth + "upstreams:\n" +
                                   env.upstream_yaml("exchange", options.backend_var, options.authenticate,
                                                     options.upstream, options.upstream_server) +
                                   env.directory_yaml(options.directory_uris, options.directory) +
                                   env.kerberos_yaml(options.principal_var, options.keytab_var,
                                                     options.krb5_conf, options.kerberos) +
                                   options.sections +
                                   "logging:\n"
                                   "  level: debug\n";
        gateway_ = std::make_unique<EasgateProcess>(work_, config, options.prefix);
        ASSERT_TRUE(gateway_->started()) << gateway_->log();
        const auto ports = gateway_->device_ports();
        ASSERT_EQ(ports.size(), 1u) << gateway_->log();
        port_ = ports[0];
    }

    // Rewrites the running configuration (each `from` replaced by its `to`), sends SIGHUP, and waits
    // until easgate logged that it reloaded.
    void reload_with(const std::vector<std::pair<std::string, std::string>>& edits) {
        const auto path = work_ / "easgate.yaml";
        auto yaml = read_file(path);
        for (const auto& [from, to] : edits) {
            const auto at = yaml.find(from);
            ASSERT_NE(at, std::string::npos) << from << " is not in\n" << yaml;
            yaml.replace(at, from.size(), to);
        }
        write_file(path, yaml);
        const auto reloads = count_of(gateway_->log(), "reloaded ");
        ::kill(gateway_->pid(), SIGHUP);
        for (int i = 0; i < 200 && count_of(gateway_->log(), "reloaded ") == reloads; ++i)
            std::this_thread::sleep_for(std::chrono::milliseconds(25));
        ASSERT_EQ(count_of(gateway_->log(), "reloaded "), reloads + 1) << gateway_->log();
    }

    // An ActiveSync URL on the gateway; every EAS request names its device.
    std::string url(const std::string& query = "Cmd=Sync") const {
        return "https://" + lab().at("LAB_GW_HOST") + ":" + std::to_string(port_) +
               "/Microsoft-Server-ActiveSync?" + query + "&DeviceId=EASGATETEST01&DeviceType=TestDevice";
    }

    // curl with a lab user's device certificate; more URLs reuse the same TLS connection.
    CommandResult as_user(const std::string& user, std::vector<std::string> extra = {}) const {
        const std::filesystem::path dir = lab().at("LAB_CLIENT_CERT_DIR");
        extra.insert(extra.begin(), "--fail-with-body");
        return curl_as_device(url("Cmd=Sync&User=" + user), lab().at("LAB_CA_FILE"), dir / (user + ".pem"),
                              dir / (user + ".key"), std::move(extra));
    }

    // curl with a certificate for upn from the test CA (a UPN the directory need not know).
    CommandResult as_upn(const std::string& upn) {
        CertSpec spec;
        spec.common_name = "device";
        spec.upn = upn;
        return as_certificate(test_ca_->issue(spec));
    }

    // curl with a certificate from the test CA; prints the status code only.
    CommandResult as_certificate(const IssuedCert& certificate) {
        const auto [cert, key] = certificate.write(work_, "test-device");
        return curl_as_device(url(), lab().at("LAB_CA_FILE"), cert, key,
                              {"--write-out", "%{http_code}", "--output", "/dev/null"});
    }

    static std::string status_of(CommandResult result) { return result.out; }

    // A series of the gateway's /metrics, by its name and labels as written there
    // (`easgate_crl_fetches_total`, `name{uri="…"}`); none when absent.
    std::optional<double> metric(const std::string& series) const {
        const auto scraped =
            run_command({"curl", "--silent", "--show-error", gateway_->admin_url() + "/metrics"});
        const auto at = scraped.out.find("\n" + series + " ");
        if (scraped.exit_code != 0 || at == std::string::npos) return std::nullopt;
        return std::stod(scraped.out.substr(at + series.size() + 2));
    }

    // The backend's JSON answers, one per line of curl's output.
    static std::vector<nlohmann::json> reports(const CommandResult& result) {
        std::vector<nlohmann::json> all;
        std::size_t start = 0;
        for (auto end = result.out.find('\n'); end != std::string::npos; end = result.out.find('\n', start)) {
            const auto line = result.out.substr(start, end - start);
            if (line.find('{') != std::string::npos) all.push_back(nlohmann::json::parse(line));
            start = end + 1;
        }
        return all;
    }

    std::filesystem::path work_;
    std::unique_ptr<TestCa> test_ca_;
    std::uint16_t port_ = 0;
    std::unique_ptr<EasgateProcess> gateway_;
};

}  // namespace easgate::testing
