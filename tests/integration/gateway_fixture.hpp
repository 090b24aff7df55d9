#pragma once

// Starts a real easgate process on loopback in front of easgate-test-upstream, with a PKI made for
// the test run, and drives it with curl presenting device certificates, as a phone would.

#include <gtest/gtest.h>

#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "cdp_server.hpp"
#include "child_process.hpp"
#include "easgate_process.hpp"
#include "test_pki.hpp"

namespace easgate::testing {

// The device parameters every ActiveSync request carries, after its Cmd.
inline const std::string device_query = "&DeviceId=EASGATETEST01&DeviceType=TestDevice";
inline const std::string sync_path = "/Microsoft-Server-ActiveSync?Cmd=Sync" + device_query;

// <Ping xmlns="Ping"><HeartbeatInterval>90</HeartbeatInterval></Ping> in WBXML (code page 13).
inline const std::string ping_90s(
    "\x03\x01\x6a\x00\x00\x0d\x45\x48\x03"
    "90\x00\x01\x01",
    14);

// Device certificates (and a key) the suite issues once: name -> files in the PKI folder.
struct DeviceCredential {
    std::filesystem::path cert;
    std::filesystem::path key;
};

struct GatewayOptions {
    std::string client_auth_mode = "required";
    std::string trusted_ca_file = "device-cas.pem";  // in the PKI folder: the issuing CAs and the root
    bool with_crls = false;                          // crl_files: every CA's CRL, or crl_files when given
    std::vector<std::string> crl_files;              // names in the PKI folder
    std::string client_auth;       // extra YAML lines under client_auth:, each "      key: value\n"
    std::string upstream_url;      // default: the test upstream over https
    std::string upstream_ca_file;  // default: the server CA
    std::string listener;          // extra YAML lines in the listener's entry, each "    key: value\n"
    std::string limits;            // extra YAML lines under limits:, each "    key: value\n"
    std::string upstream;          // extra YAML lines in the upstream's entry, each "    key: value\n"
    std::string sections;          // extra top-level YAML, e.g. "policy:\n  rules: ...\n"
    std::string logging;           // extra YAML lines under logging:, each "  key: value\n"
};

// The suite's device PKI (see make), with its CRL Distribution Point server.
struct SuitePki {
    CdpServer cdp;
    TestCa root = TestCa::create_root("easgate test device root");
    std::unique_ptr<TestCa> issuing;  // issues the devices
    std::unique_ptr<TestCa> renewed;  // the issuing CA renewed with a new key (device-cas-renewed.pem)
    IssuedCert frank;                 // devices the tests may revoke
    IssuedCert gina;
    IssuedCert hank;  // of the renewed key
    std::filesystem::path pki_dir;

    void make(const std::filesystem::path& dir);
    // The CDP serves each CA's CRL as written at the start; undoes what a test published.
    void publish_defaults();
};

class GatewayTest : public ::testing::Test {
protected:
    static void SetUpTestSuite();
    static void TearDownTestSuite();
    void TearDown() override;

    // Starts the test upstream (once per test) and easgate with these options; waits until ready.
    void start_gateway(const GatewayOptions& options = {});
    // Starts another test upstream with this server certificate, on port (0: any free one);
    // returns its https URL (its http URL with tls false: plain http, the certificate unused). N counts the
    // upstreams started: its output is in work_dir()/upstream-N.out; while work_dir()/upstream-N.sick
    // exists, its health check page answers 503, and while upstream-N.stopped exists, every request
    // gets the 503 of a stopped IIS application pool.
    std::string start_upstream(const std::string& server_cert_name, std::uint16_t port = 0, bool tls = true);
    // SIGKILLs the N-th test upstream (Exchange crashing); starting one on its port brings it back.
    void kill_upstream(std::size_t n) { processes_.at(n)->crash(); }

    // curl through the gateway to path, presenting the named device certificate ("" for none).
    CommandResult curl(const std::string& device, const std::string& path,
                       std::vector<std::string> extra = {});
    // curl and parse the test upstream's JSON report; fails the test on a non-200 answer.
    nlohmann::json curl_report(const std::string& device, const std::string& path,
                               std::vector<std::string> extra = {});

    // The handshake fails, nothing reaches the upstream, and the log names the reason.
    void expect_refused(const std::string& device, const std::string& reason);

    std::string gateway_log() const { return gateway_ ? gateway_->log() : ""; }
    // Waits until the gateway's log holds needle; the log then, or "" on timeout.
    std::string wait_for_gateway_log(const std::string& needle) const {
        return gateway_->wait_for_log(needle);
    }
    std::string gateway_url(const std::string& path) const;
    std::uint16_t gateway_port() const { return gateway_port_; }
    // SIGHUP to easgate (after a test rewrote work_dir()/easgate.yaml); waits until it has reloaded
    // or refused to, and returns what it logged since the signal.
    std::string reload_gateway();
    // SIGTERM to easgate; its exit code once it has stopped.
    int stop_gateway() { return gateway_->stop(); }
    pid_t gateway_pid() const { return gateway_->pid(); }
    std::string admin_url(const std::string& path) const { return gateway_->admin_url() + path; }
    // The admin endpoint's /metrics now.
    std::string metrics() const;
    // Polls /metrics until it holds line, a series and its value (the accept loop and the sessions
    // run on other threads), for up to 5 seconds.
    bool metrics_show(const std::string& line) const;
    const std::filesystem::path& work_dir() const { return work_; }
    static const std::filesystem::path& pki_dir();
    static SuitePki& pki();

private:
    std::filesystem::path work_;
    std::uint16_t gateway_port_ = 0;
    std::vector<std::unique_ptr<ChildProcess>> processes_;
    std::unique_ptr<EasgateProcess> gateway_;
};

}  // namespace easgate::testing
