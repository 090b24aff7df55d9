#include "gateway_fixture.hpp"

#include <signal.h>

#include <chrono>
#include <fstream>
#include <thread>

#include "test_pki.hpp"

namespace easgate::testing {
namespace {

std::unique_ptr<SuitePki> suite_pki;

std::string upstream_port_from(const std::string& stdout_text) {
    const std::string marker = "listening on port ";
    const auto at = stdout_text.find(marker);
    return stdout_text.substr(at + marker.size(), stdout_text.find('\n', at) - at - marker.size());
}

CertSpec device(std::optional<std::string> upn, std::vector<std::string> emails = {}) {
    CertSpec spec;
    spec.common_name = upn ? *upn : emails.front();
    spec.upn = std::move(upn);
    spec.emails = std::move(emails);
    return spec;
}

// The fixture's shorter waits than the defaults, for the keys a test's own limits leave out (a key
// may be written once).
std::string shorter_timeouts(const std::string& test_limits) {
    std::string lines;
    for (const char* key : {"handshake_timeout", "header_timeout"})
        if (test_limits.find(std::string(key) + ":") == std::string::npos)
            lines += "    " + std::string(key) + ": 5s\n";
    return lines;
}

void make_server_certificates(const std::filesystem::path& dir) {
    auto server_ca = TestCa::create_root("easgate test server CA");
    write_file(dir / "server-ca.pem", server_ca.cert_pem());
    CertSpec server;
    server.common_name = "localhost";
    server.dns_names = {"localhost"};
    server.ip_addresses = {"127.0.0.1"};
    server.client_auth_eku = false;
    server.server_auth_eku = true;
    server_ca.issue(server).write(dir, "server");
    CertSpec wrong_name = server;
    wrong_name.dns_names = {"not-this-host.example"};
    wrong_name.ip_addresses = {};
    server_ca.issue(wrong_name).write(dir, "server-wrong-name");
}

void issue_devices(const std::filesystem::path& dir, TestCa& issuing) {
    issuing.issue(device("alice@example.test", {"alice@mail.example.test"})).write(dir, "alice");
    issuing.issue(device(std::nullopt, {"bob@example.test"})).write(dir, "email-only");
    auto with_sid = device("carol@example.test");
    with_sid.sid = "S-1-5-21-1004336348-1177238915-682003330-1105";
    issuing.issue(with_sid).write(dir, "sid");
    auto expired = device("expired@example.test");
    expired.not_before = std::chrono::hours(-48);
    expired.not_after = std::chrono::hours(-24);
    issuing.issue(expired).write(dir, "expired");
    auto not_yet = device("future@example.test");
    not_yet.not_before = std::chrono::hours(24);
    not_yet.not_after = std::chrono::hours(48);
    issuing.issue(not_yet).write(dir, "not-yet-valid");
    auto no_eku = device("noeku@example.test");
    no_eku.omit_eku = true;
    issuing.issue(no_eku).write(dir, "no-eku");
    auto server_eku = device("serverauth@example.test");
    server_eku.client_auth_eku = false;
    server_eku.server_auth_eku = true;
    issuing.issue(server_eku).write(dir, "server-auth-eku");
    auto no_identity = device(std::nullopt, {"x@example.test"});
    no_identity.emails.clear();
    issuing.issue(no_identity).write(dir, "no-identity");

    const auto revoked = issuing.issue(device("revoked@example.test"));
    revoked.write(dir, "revoked");
    issuing.revoke(revoked);
    // Devices that send their issuing CA along, for a gateway that trusts the root alone.
    issuing.issue(device("dave@example.test")).write(dir, "chained", issuing.cert_pem());
    const auto chained_revoked = issuing.issue(device("eve@example.test"));
    chained_revoked.write(dir, "chained-revoked", issuing.cert_pem());
    issuing.revoke(chained_revoked);
}

}  // namespace

// The suite's PKI, laid out as AD CS deployments are: an offline root CA, an enterprise issuing CA
// that issues the devices, and a second issuing CA the root has revoked. Every certificate names
// its CA's CRL on the CDP server as its CRL Distribution Point. Besides: a rogue CA, and a server
// CA for the gateway's and the upstream's certificates.
void SuitePki::make(const std::filesystem::path& dir) {
    root.publish_at(cdp.url("root.crl"));
    issuing = std::make_unique<TestCa>(root.create_intermediate("easgate test issuing CA"));
    issuing->publish_at(cdp.url("issuing.crl"), cdp.url("issuing-delta.crl"));
    // Renewed with a new key (AD CS: the same name, a CRL per key as "<CA name>(1).crl").
    renewed = std::make_unique<TestCa>(root.create_intermediate("easgate test issuing CA"));
    renewed->publish_at(cdp.url("issuing(1).crl"));
    auto retired = root.create_intermediate("easgate test retired issuing CA");
    retired.publish_at(cdp.url("retired.crl"));
    root.revoke(retired.serial_hex());
    make_server_certificates(dir);

    write_file(dir / "device-root.pem", root.cert_pem());
    write_file(dir / "issuing-ca.pem", issuing->cert_pem());
    // What docs/admin-guide.md tells the admin to list: every issuing CA, then the root.
    write_file(dir / "device-cas.pem", issuing->cert_pem() + retired.cert_pem() + root.cert_pem());
    write_file(dir / "device-cas-renewed.pem",
               issuing->cert_pem() + renewed->cert_pem() + retired.cert_pem() + root.cert_pem());

    issue_devices(dir, *issuing);
    // Revoked by the CRL refresh tests, at run time.
    frank = issuing->issue(device("frank@example.test"));
    frank.write(dir, "frank");
    gina = issuing->issue(device("gina@example.test"));
    gina.write(dir, "gina");
    hank = renewed->issue(device("hank@example.test"));
    hank.write(dir, "hank");
    TestCa::create_root("rogue CA").issue(device("alice@example.test")).write(dir, "rogue");
    retired.issue(device("retired@example.test")).write(dir, "retired-issuer");
    // Another CA under the root (for Wi-Fi, say), not listed: it can still issue a certificate naming
    // alice with the Client Authentication EKU, and the device sends the CA along.
    auto wifi = root.create_intermediate("easgate test Wi-Fi CA");
    wifi.publish_at(cdp.url("wifi.crl"));
    wifi.issue(device("alice@example.test")).write(dir, "wifi-ca-alice", wifi.cert_pem());
    write_file(dir / "wifi-ca.crl", wifi.crl_pem());

    write_file(dir / "issuing-ca-expired.crl", issuing->crl_pem(-std::chrono::hours(1)));
    write_file(dir / "issuing-ca-expired-delta.crl", issuing->delta_crl_pem(-std::chrono::hours(1)));
    write_file(dir / "device-root.crl", root.crl_pem());
    write_file(dir / "issuing-ca.crl", issuing->crl_pem());  // the newest base: deltas build on it
    write_file(dir / "issuing-ca-delta.crl", issuing->delta_crl_pem());
    write_file(dir / "retired-ca.crl", retired.crl_pem());
    write_file(dir / "issuing-ca-renewed.crl", renewed->crl_pem());
    publish_defaults();
}

void SuitePki::publish_defaults() {
    cdp.start();
    cdp.unpublish_all();
    for (const auto& [name, file] : {std::pair{"root.crl", "device-root.crl"},
                                     {"issuing.crl", "issuing-ca.crl"},
                                     {"issuing-delta.crl", "issuing-ca-delta.crl"},
                                     {"retired.crl", "retired-ca.crl"},
                                     {"issuing(1).crl", "issuing-ca-renewed.crl"}}) {
        std::ifstream in(pki_dir / file, std::ios::binary);
        cdp.publish(name, std::string(std::istreambuf_iterator<char>(in), {}));
    }
}

void GatewayTest::SetUpTestSuite() {
    suite_pki = std::make_unique<SuitePki>();
    suite_pki->pki_dir = make_temp_dir("pki");
    suite_pki->make(suite_pki->pki_dir);
}

void GatewayTest::TearDownTestSuite() {
    std::filesystem::remove_all(suite_pki->pki_dir);
    suite_pki.reset();
}

const std::filesystem::path& GatewayTest::pki_dir() { return suite_pki->pki_dir; }

SuitePki& GatewayTest::pki() { return *suite_pki; }

void GatewayTest::TearDown() {
    if (HasFailure()) {
        std::cerr << "--- easgate log ---\n" << gateway_log() << "--- end of easgate log ---\n";
    }
    gateway_.reset();
    processes_.clear();  // the upstreams
    suite_pki->publish_defaults();
    std::filesystem::remove_all(work_);
}

std::string GatewayTest::start_upstream(const std::string& server_cert_name, std::uint16_t port, bool tls) {
    if (work_.empty()) work_ = make_temp_dir("e2e");
    const auto out = work_ / ("upstream-" + std::to_string(processes_.size()) + ".out");
    std::vector<std::string> argv{
        EASGATE_TEST_UPSTREAM_BINARY,
        "--cert",
        (pki_dir() / (server_cert_name + ".pem")).string(),
        "--key",
        (pki_dir() / (server_cert_name + ".key")).string(),
        "--sick-file",
        (work_ / ("upstream-" + std::to_string(processes_.size()) + ".sick")).string(),
        "--stopped-file",
        (work_ / ("upstream-" + std::to_string(processes_.size()) + ".stopped")).string(),
        "--port",
        std::to_string(port)};
    if (!tls) argv.insert(argv.end(), {"--tls", "off"});
    processes_.push_back(std::make_unique<ChildProcess>(argv, out, work_ / "upstream.err"));
    const auto text = wait_for_text(out, "listening on port ");
    EXPECT_FALSE(text.empty()) << "the test upstream did not start";
    return (tls ? "https://localhost:" : "http://localhost:") + upstream_port_from(text);
}

void GatewayTest::start_gateway(const GatewayOptions& options) {
    if (work_.empty()) work_ = make_temp_dir("e2e");
    const auto upstream_url = options.upstream_url.empty() ? start_upstream("server") : options.upstream_url;
    const auto pki = pki_dir();
    auto crl_files = options.crl_files;
    if (options.with_crls && crl_files.empty())
        crl_files = {"device-root.crl", "issuing-ca.crl", "issuing-ca-delta.crl", "retired-ca.crl"};
    std::string crls;
    for (const auto& name : crl_files)
        crls += (crls.empty() ? "      crl_files: [" : ", ") + (pki / name).string();
    if (!crls.empty()) crls += "]\n";
    const std::string config =
        "listeners:\n"
        "  - address: 127.0.0.1\n"
        "    port: 0\n"
        "    certificate: " +
        (pki / "server.pem").string() +
        "\n"
        "    private_key: " +
        (pki / "server.key").string() +
        "\n"
        "    client_auth:\n"
        "      mode: " +
        options.client_auth_mode +
        "\n"
        "      trusted_ca_file: " +
        (pki / options.trusted_ca_file).string() + "\n" + crls + options.client_auth + options.listener +
        "upstreams:\n"
        "  - name: exchange\n"
        "    servers: [" +
        upstream_url +
        "]\n"
        "    ca_file: " +
        (options.upstream_ca_file.empty() ? (pki / "server-ca.pem").string() : options.upstream_ca_file) +
        "\n" + options.upstream + "limits:\n" + shorter_timeouts(options.limits) + options.limits +
        options.sections +
        "logging:\n"
        "  level: debug\n" +
        options.logging + "workers: 2\n";
    gateway_ = std::make_unique<EasgateProcess>(work_, config);
    ASSERT_TRUE(gateway_->started()) << "easgate did not start:\n" << gateway_->log();
    const auto ports = gateway_->device_ports();
    ASSERT_EQ(ports.size(), 1u) << gateway_->log();
    gateway_port_ = ports[0];
}

std::string GatewayTest::reload_gateway() {
    const auto before = gateway_log().size();
    ::kill(gateway_pid(), SIGHUP);
    for (int i = 0; i < 200; ++i) {
        auto since = gateway_log().substr(before);
        if (since.find("reloaded ") != std::string::npos ||
            since.find("the running configuration stays in use") != std::string::npos)
            return since;
        std::this_thread::sleep_for(std::chrono::milliseconds(25));
    }
    ADD_FAILURE() << "easgate did not log a reload within 5 s:\n" << gateway_log().substr(before);
    return gateway_log().substr(before);
}

std::string GatewayTest::metrics() const {
    return run_command({"curl", "--silent", "--show-error", "--max-time", "10", admin_url("/metrics")}).out;
}

bool GatewayTest::metrics_show(const std::string& line) const {
    for (int i = 0; i < 100; ++i) {
        if (metrics().find(line + "\n") != std::string::npos) return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return false;
}

std::string GatewayTest::gateway_url(const std::string& path) const {
    return "https://localhost:" + std::to_string(gateway_port_) + path;
}

CommandResult GatewayTest::curl(const std::string& device, const std::string& path,
                                std::vector<std::string> extra) {
    const auto file = [&](const char* ending) {
        return device.empty() ? std::filesystem::path() : pki_dir() / (device + ending);
    };
    return curl_as_device(gateway_url(path), pki_dir() / "server-ca.pem", file(".pem"), file(".key"),
                          std::move(extra));
}

void GatewayTest::expect_refused(const std::string& device, const std::string& reason) {
    const auto result =
        curl(device, "/Microsoft-Server-ActiveSync?Cmd=Ping&DeviceId=EASGATETEST01&DeviceType=TestDevice");
    EXPECT_NE(result.exit_code, 0) << "a request with the " << device << " certificate went through";
    EXPECT_EQ(result.out.find("body_sha256"), std::string::npos) << "the upstream answered: " << result.out;
    EXPECT_FALSE(wait_for_text(work_dir() / "easgate.err", reason, std::chrono::seconds(5)).empty())
        << "easgate's log does not say \"" << reason << "\"";
}

nlohmann::json GatewayTest::curl_report(const std::string& device, const std::string& path,
                                        std::vector<std::string> extra) {
    extra.insert(extra.end(), {"--fail-with-body"});
    const auto result = curl(device, path, std::move(extra));
    EXPECT_EQ(result.exit_code, 0) << result.err << result.out;
    if (result.exit_code != 0) return {};
    return nlohmann::json::parse(result.out);
}

}  // namespace easgate::testing
