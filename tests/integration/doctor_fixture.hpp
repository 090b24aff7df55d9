// The fixture of the `easgate doctor --json` tests: a PKI laid out as AD CS builds one (offline
// root → issuing CA → devices, a server certificate of its own chain), made once per suite, and a
// configuration of which each test changes one thing.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cdp_server.hpp"
#include "child_process.hpp"
#include "test_pki.hpp"

namespace easgate::testing {

using std::chrono::hours;
constexpr auto a_year = hours(365 * 24);

struct DoctorPki {
    std::filesystem::path dir = make_temp_dir("doctor-pki");
    TestCa root = publishing_root();
    TestCa issuing = root.create_intermediate("Doctor Issuing CA");
    TestCa renewed = root.create_intermediate("Doctor Issuing CA");  // the same CA renewed with a new key

    DoctorPki() {
        auto server_root = TestCa::create_root("Doctor Server Root");
        const auto server_issuing = server_root.create_intermediate("Doctor Server Issuing CA");
        CertSpec server{.common_name = "localhost", .dns_names = {"localhost"}};
        server.client_auth_eku = false;
        server.server_auth_eku = true;
        server.not_after = a_year;  // the default month is within doctor's renewal warning
        const auto good_server = server_issuing.issue(server);
        good_server.write(dir, "server", server_issuing.cert_pem());
        good_server.write(dir, "server-alone");  // without its issuing CA
        server.not_after = hours(10 * 24);
        server_issuing.issue(server).write(dir, "server-expiring", server_issuing.cert_pem());
        write_file(dir / "other.key", server_issuing.issue(server).key_pem);

        write_file(dir / "device-cas.pem", issuing.cert_pem() + root.cert_pem());
        write_file(dir / "root-only.pem", root.cert_pem());
        write_file(dir / "device-cas-renewed.pem", issuing.cert_pem() + renewed.cert_pem() + root.cert_pem());
        issue_devices();
        const auto week = hours(7 * 24);
        write_file(dir / "root.crl", root.crl_pem(week));
        write_file(dir / "issuing.crl", issuing.crl_pem(week));
        write_file(dir / "issuing-expired.crl", issuing.crl_pem(-hours(1)));
        write_file(dir / "issuing(1).crl", renewed.crl_pem(week));
        write_file(dir / "rogue.crl", TestCa::create_root("Doctor Rogue CA").crl_pem(week));
    }
    ~DoctorPki() { std::filesystem::remove_all(dir); }

    // The root names its CRL's URL in the issuing CA's certificate, as AD CS does.
    static TestCa publishing_root() {
        auto root = TestCa::create_root("Doctor Root CA");
        root.publish_at("http://127.0.0.1:9/doctor-root.crl");
        return root;
    }

    static CertSpec device(const std::string& upn) {
        return {.common_name = upn,
                .upn = upn,
                .emails = {upn},
                .sid = "S-1-5-21-1004336348-1177238915-682003330-1105",
                .not_after = a_year};
    }

    void issue_devices() {
        issuing.issue(device("alice@example.test")).write(dir, "good");
        renewed.issue(device("dave@example.test")).write(dir, "renewed-good");
        issuing.issue(device("erin@example.test")).write(dir, "chained", issuing.cert_pem());
        const auto revoked = issuing.issue(device("revoked@example.test"));
        revoked.write(dir, "revoked");
        issuing.revoke(revoked);
        TestCa::create_root("Doctor Rogue CA").issue(device("alice@example.test")).write(dir, "rogue");
        auto no_eku = device("noeku@example.test");
        no_eku.client_auth_eku = false;  // emailProtection only
        issuing.issue(no_eku).write(dir, "no-eku");
        auto no_upn = device("bob@example.test");
        no_upn.upn.reset();
        issuing.issue(no_upn).write(dir, "no-upn");
        auto no_sid = device("carol@example.test");
        no_sid.sid.reset();
        issuing.issue(no_sid).write(dir, "no-sid");
    }
};

// What a test changes in the configuration; names are files in the PKI folder.
struct DoctorSetup {
    std::string certificate = "server.pem";
    std::string private_key = "server.key";
    std::vector<std::string> crl_files = {"root.crl", "issuing.crl"};
    std::string strong_mapping = "preferred";
    std::string public_name = "localhost";
    std::string client_auth;  // more YAML lines under client_auth, each "      key: value\n"
    std::string trusted_cas = "device-cas.pem";
    std::string sections;         // more top-level YAML, e.g. "directory:\n  uris: …\n"
    std::string exchange_answer;  // what the stand-in Exchange answers; default: IIS's 401, dated now
    std::string exchange_url;     // upstreams[0].servers[0]; default: that stand-in
};

class DoctorTest : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        pki_ = std::make_unique<DoctorPki>();
        exchange_ = std::make_unique<CdpServer>();
    }
    static void TearDownTestSuite() {
        pki_.reset();
        exchange_.reset();
    }
    void TearDown() override { std::filesystem::remove_all(work_); }

    // Runs `easgate doctor --json` on the configuration; its exit code and report.
    void run(const DoctorSetup& setup = {}, const std::string& device = "") {
        const auto& dir = pki_->dir;
        std::string crls;
        for (const auto& name : setup.crl_files) crls += (crls.empty() ? "" : ", ") + (dir / name).string();
        const auto config = work_ / "easgate.yaml";
        exchange_->answer_with("Microsoft-Server-ActiveSync",
                               setup.exchange_answer.empty() ? iis_refusal() : setup.exchange_answer);
        const std::string exchange_url = setup.exchange_url.empty()
                                             ? "http://127.0.0.1:" + std::to_string(exchange_->port())
                                             : setup.exchange_url;
        // clang-format off
        write_file(config,
                   "listeners:\n"
                   "  - address: 127.0.0.1\n"
                   "    port: 0\n"
                   "    public_name: " + setup.public_name + "\n"
                   "    certificate: " + (dir / setup.certificate).string() + "\n"
                   "    private_key: " + (dir / setup.private_key).string() + "\n"
                   "    client_auth:\n"
                   "      trusted_ca_file: " + (dir / setup.trusted_cas).string() + "\n"
                   "      crl_files: [" + crls + "]\n" + setup.client_auth +
                   "upstreams:\n"
                   "  - name: exchange\n"
                   "    servers: [" + exchange_url + "]\n"
                   "identity:\n"
                   "  strong_mapping: " + setup.strong_mapping + "\n" + setup.sections);
        // clang-format on
        std::vector<std::string> argv = {EASGATE_BINARY, "doctor", "--config", config.string(), "--json"};
        if (!device.empty()) argv.insert(argv.end(), {"--certificate", (dir / (device + ".pem")).string()});
        const auto result = run_command(argv);
        exit_code_ = result.exit_code;
        output_ = result.out + result.err;
        report_ = nlohmann::json::parse(result.out, nullptr, false);
        ASSERT_FALSE(report_.is_discarded()) << output_;
    }

    // A finding whose check contains check, with this verdict and needle in what it found or the
    // remedy.
    void expect(const std::string& check, const std::string& verdict, const std::string& needle) const {
        for (const auto& finding : report_["checks"]) {
            const auto text =
                finding["found"].get<std::string>() + " | " + finding["remedy"].get<std::string>();
            if (finding["check"].get<std::string>().find(check) != std::string::npos &&
                finding["verdict"] == verdict && text.find(needle) != std::string::npos)
                return;
        }
        ADD_FAILURE() << "no " << verdict << " \"" << check << "\" naming \"" << needle << "\" in\n"
                      << output_;
    }

    // How many findings in area have this verdict.
    std::size_t count(const std::string& area, const std::string& verdict) const {
        std::size_t n = 0;
        for (const auto& finding : report_["checks"])
            n += finding["area"] == area && finding["verdict"] == verdict;
        return n;
    }

    inline static std::unique_ptr<DoctorPki> pki_;
    inline static std::unique_ptr<CdpServer> exchange_;  // Exchange's first answer, as the doctor asks for it
    std::filesystem::path work_ = make_temp_dir("doctor");
    int exit_code_ = -1;
    std::string output_;
    nlohmann::json report_;
};

}  // namespace easgate::testing
