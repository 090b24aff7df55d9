// `easgate doctor --json` run as an admin runs it, on a PKI laid out as AD CS builds one (offline
// root → issuing CA → devices), with one thing broken per test; each test checks the verdict and
// that the finding names the cause.
#include <gtest/gtest.h>

#include <chrono>
#include <nlohmann/json.hpp>

#include "cdp_server.hpp"
#include "child_process.hpp"
#include "easgate/config/config.hpp"
#include "easgate/identity/crl_cache.hpp"
#include "easgate/identity/trust_store.hpp"
#include "test_pki.hpp"

namespace easgate::testing {
namespace {

using std::chrono::hours;
constexpr auto a_year = hours(365 * 24);

struct Pki {
    std::filesystem::path dir = make_temp_dir("doctor-pki");
    TestCa root = publishing_root();
    TestCa issuing = root.create_intermediate("Doctor Issuing CA");
    TestCa renewed = root.create_intermediate("Doctor Issuing CA");  // the same CA renewed with a new key

    Pki() {
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
        write_file(dir / "device-cas-renewed.pem", issuing.cert_pem() + renewed.cert_pem() + root.cert_pem());
        issue_devices();
        const auto week = hours(7 * 24);
        write_file(dir / "root.crl", root.crl_pem(week));
        write_file(dir / "issuing.crl", issuing.crl_pem(week));
        write_file(dir / "issuing-expired.crl", issuing.crl_pem(-hours(1)));
        write_file(dir / "issuing(1).crl", renewed.crl_pem(week));
        write_file(dir / "rogue.crl", TestCa::create_root("Doctor Rogue CA").crl_pem(week));
    }
    ~Pki() { std::filesystem::remove_all(dir); }

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
};

class DoctorTest : public ::testing::Test {
protected:
    static void SetUpTestSuite() { pki_ = std::make_unique<Pki>(); }
    static void TearDownTestSuite() { pki_.reset(); }
    void TearDown() override { std::filesystem::remove_all(work_); }

    // Runs `easgate doctor --json` on the configuration; its exit code and report.
    void run(const DoctorSetup& setup = {}, const std::string& device = "") {
        const auto& dir = pki_->dir;
        std::string crls;
        for (const auto& name : setup.crl_files) crls += (crls.empty() ? "" : ", ") + (dir / name).string();
        const auto config = work_ / "easgate.yaml";
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
                   "    servers: [https://localhost:1]\n"
                   "identity:\n"
                   "  strong_mapping: " + setup.strong_mapping + "\n");
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

    static std::unique_ptr<Pki> pki_;
    std::filesystem::path work_ = make_temp_dir("doctor");
    int exit_code_ = -1;
    std::string output_;
    nlohmann::json report_;
};

std::unique_ptr<Pki> DoctorTest::pki_;

TEST_F(DoctorTest, AGoodConfigurationPasses) {
    run();
    EXPECT_EQ(exit_code_, 0) << output_;
    EXPECT_EQ(report_["ok"], true);
    EXPECT_EQ(count("tls", "WARN") + count("tls", "FAIL"), 0u) << output_;
    expect("listeners[0] TLS settings", "PASS", "key matches");
    expect("listeners[0] CRL of CA", "PASS", "\"CN=Doctor Root CA\"");
    expect("listeners[0] CRL of CA", "PASS", "\"CN=Doctor Issuing CA\"");
    expect("trusted_ca_file CA", "PASS", "CA \"CN=Doctor Issuing CA\" (link");
    expect("trusted_ca_file CA", "PASS", "CA \"CN=Doctor Root CA\" (anchor: a root)");
}

TEST_F(DoctorTest, AKeyNotMatchingTheCertificateFailsNamingTheKey) {
    run({.private_key = "other.key"});
    EXPECT_EQ(exit_code_, 1) << output_;
    expect("listeners[0] TLS settings", "FAIL", "listeners[0].private_key: ");
    expect("listeners[0] TLS settings", "FAIL", "does not match the certificate");
}

TEST_F(DoctorTest, AServerCertificateExpiringInTenDaysWarnsWithTheDate) {
    run({.certificate = "server-expiring.pem", .private_key = "server-expiring.key"});
    EXPECT_EQ(exit_code_, 0) << output_;
    expect("server certificate validity", "WARN", "server certificate \"CN=localhost\" expires in ");
    expect("server certificate validity", "WARN", " days, at 20");
}

TEST_F(DoctorTest, AServerCertificateWithoutItsIntermediateOrOfAnotherNameWarns) {
    run({.certificate = "server-alone.pem", .public_name = "mail.example.test"});
    EXPECT_EQ(exit_code_, 0) << output_;
    expect("server certificate chain", "WARN", "the issuer \"CN=Doctor Server Issuing CA\" of the server");
    expect("server certificate name", "WARN", "public_name mail.example.test is not a subjectAltName");
}

// The root's CDP (in the issuing CA's certificate) is 127.0.0.1:9, where nothing listens.
TEST_F(DoctorTest, AnUnreachableDistributionPointWarnsWithWhatEasgateDoesMeanwhile) {
    run({.client_auth = "      crl_refresh: {interval: 1h}\n"});
    EXPECT_EQ(exit_code_, 0) << output_;
    const std::string check = "CRL refresh from http://127.0.0.1:9/doctor-root.crl";
    expect(check, "WARN",
           "connecting: Connection refused: easgate keeps the CRLs it holds until their nextUpdate");
    expect(check, "WARN", "let this host reach the URL over http");
    expect("CRL refresh", "PASS", "give --certificate with a device's certificate");
}

TEST_F(DoctorTest, CrlRefreshFetchesEachDistributionPointAsEasgateWill) {
    CdpServer cdp;
    auto root = TestCa::create_root("Doctor CDP Root CA");
    root.publish_at(cdp.url("root.crl"));
    auto issuing = root.create_intermediate("Doctor CDP Issuing CA");
    issuing.publish_at(cdp.url("issuing.crl"));
    const auto& dir = pki_->dir;
    const auto week = hours(7 * 24);
    write_file(dir / "cdp-cas.pem", issuing.cert_pem() + root.cert_pem());
    write_file(dir / "cdp-root.crl", root.crl_pem(week));
    write_file(dir / "cdp-issuing.crl", issuing.crl_pem(week));
    issuing.issue(Pki::device("alice@example.test")).write(dir, "cdp-device");
    cdp.publish("root.crl", root.crl_pem(week));  // published since the seed was copied
    const DoctorSetup setup{.crl_files = {"cdp-root.crl", "cdp-issuing.crl"},
                            .client_auth = "      crl_refresh: {interval: 1h}\n",
                            .trusted_cas = "cdp-cas.pem"};

    // The issuing CA's CDP is in the device's certificate: named by --certificate, it is fetched too.
    run(setup, "cdp-device");
    EXPECT_EQ(exit_code_, 0) << output_;
    expect(" from " + cdp.url("root.crl"), "PASS", "CRL of \"CN=Doctor CDP Root CA\" (nextUpdate 20");
    expect(" from " + cdp.url("root.crl"), "PASS", "newer than crl_files");
    expect(" from " + cdp.url("issuing.crl"), "WARN", "answered 404");
    EXPECT_EQ(cdp.requests("issuing.crl"), 1);

    cdp.publish("issuing.crl", TestCa::create_root("Doctor CDP Issuing CA").crl_pem(week));  // an impostor
    run(setup, "cdp-device");
    expect(" from " + cdp.url("issuing.crl"), "WARN",
           "is not signed by the CA of that name in trusted_ca_file");

    run({.crl_files = setup.crl_files, .client_auth = setup.client_auth, .trusted_cas = setup.trusted_cas});
    EXPECT_EQ(cdp.requests("issuing.crl"), 2) << "fetched without a device naming it";
}

// A phone revoked since crl_files were copied: a running easgate refuses it by the delta CRL that
// crl_refresh fetches from the CDP the base CRL names, and so must the doctor's verdict on it.
TEST_F(DoctorTest, ADeviceRevokedSinceCrlFilesWereCopiedFailsByWhatCrlRefreshFetches) {
    CdpServer cdp;
    auto issuing = pki_->root.create_intermediate("Doctor Stolen Issuing CA");
    issuing.publish_at(cdp.url("stolen.crl"), cdp.url("stolen+.crl"));
    const auto& dir = pki_->dir;
    write_file(dir / "stolen-cas.pem", issuing.cert_pem() + pki_->root.cert_pem());
    const auto phone = issuing.issue(Pki::device("alice@example.test"));
    phone.write(dir, "stolen-phone");
    const auto base = issuing.crl_pem(hours(7 * 24));
    write_file(dir / "stolen-base.crl", base);
    cdp.publish("stolen.crl", base);
    issuing.revoke(phone);
    cdp.publish("stolen+.crl", issuing.delta_crl_pem());
    DoctorSetup setup{.crl_files = {"root.crl", "stolen-base.crl"}, .trusted_cas = "stolen-cas.pem"};

    run(setup, "stolen-phone");
    expect("accepted by listeners[0]", "PASS", "is not revoked per its CRLs");  // all crl_files know
    EXPECT_EQ(cdp.requests("stolen+.crl"), 0);

    setup.client_auth = "      crl_refresh: {interval: 1h}\n";
    run(setup, "stolen-phone");
    EXPECT_EQ(exit_code_, 1) << output_;
    expect(" from " + cdp.url("stolen+.crl"), "PASS", "delta CRL of \"CN=Doctor Stolen Issuing CA\"");
    expect("accepted by listeners[0]", "FAIL",
           "certificate revoked: listed by the delta CRL of \"CN=Doctor Stolen Issuing CA\"");
    EXPECT_EQ(cdp.requests("stolen+.crl"), 1);
}

// crl_refresh.cache_dir as a start would find it: the CRLs a listed CA signed are taken back (and
// their URLs fetched at once), any other left out; a directory still to be made is left unmade (the
// doctor, run as root, would make one easgate can't write); a file in its place is named.
TEST_F(DoctorTest, TheCrlCacheIsJudgedAsAStartWouldFindIt) {
    CdpServer cdp;
    const auto cache = work_ / "crl-cache";
    const identity::CrlCache kept(
        cache.string(), config::CrlRefresh{}.max_crl_bytes);  // as an earlier run of easgate left it
    kept.save(cdp.url("issuing.crl"), pki_->issuing.crl_pem(hours(7 * 24)));
    kept.save(cdp.url("rogue.crl"), read_file(pki_->dir / "rogue.crl"));
    run({.crl_files = {"root.crl"},
         .client_auth = "      crl_refresh: {interval: 1h, cache_dir: " + cache.string() + "}\n"});
    expect("listeners[0] CRL cache", "PASS", "a start uses CRL of \"CN=Doctor Issuing CA\" (nextUpdate 20");
    expect("listeners[0] CRL cache", "PASS", "from " + cdp.url("issuing.crl"));
    expect("CRL of CA", "WARN", "unless crl_refresh.cache_dir keeps it (the CRL cache check below)");
    expect("listeners[0] CRL cache", "PASS", "a start leaves out " + cdp.url("rogue.crl") + " (");
    EXPECT_EQ(cdp.requests("issuing.crl"), 1) << "a kept CRL's distribution point is fetched, as at start";
    EXPECT_EQ(cdp.requests("rogue.crl"), 0);

    const auto unmade = work_ / "state" / "crls";
    run({.client_auth = "      crl_refresh: {cache_dir: " + unmade.string() + "}\n"});
    expect("CRL cache", "PASS", unmade.string() + " does not exist yet: easgate makes it (0700) at start");
    EXPECT_FALSE(std::filesystem::exists(work_ / "state")) << "the doctor made it";

    const auto file = work_ / "a-file";
    write_file(file, "");
    run({.client_auth = "      crl_refresh: {cache_dir: " + file.string() + "}\n"});
    EXPECT_EQ(exit_code_, 0) << output_;
    expect("CRL cache", "WARN",
           file.string() + " is not a directory: CRLs fetched are not kept across restarts");
    expect("CRL cache", "WARN", "install -d -o easgate -g easgate -m 0700 " + file.string());
}

// A base CRL naming a delta CRL (its Freshest CRL, as AD CS publishes them) that neither crl_files
// nor crl_refresh provides: a device revoked since the base gets in. Not with the delta in
// crl_files, nor with crl_refresh, which fetches it.
TEST_F(DoctorTest, ABaseCrlWhoseDeltaNothingProvidesWarns) {
    auto issuing = pki_->root.create_intermediate("Doctor Delta Issuing CA");
    const std::string delta_url = "http://127.0.0.1:9/Doctor%20Delta%20Issuing%20CA+.crl";
    issuing.publish_at("http://127.0.0.1:9/Doctor%20Delta%20Issuing%20CA.crl", delta_url);
    const auto& dir = pki_->dir;
    write_file(dir / "delta-cas.pem", issuing.cert_pem() + pki_->root.cert_pem());
    write_file(dir / "delta-base.crl", issuing.crl_pem(hours(7 * 24)));
    write_file(dir / "delta-delta.crl", issuing.delta_crl_pem());
    const auto delta_findings = [this] {
        int n = 0;
        for (const auto& finding : report_["checks"]) n += finding["check"] == "listeners[0] delta CRL";
        return n;
    };

    run({.crl_files = {"root.crl", "delta-base.crl"}, .trusted_cas = "delta-cas.pem"});
    EXPECT_EQ(exit_code_, 0) << output_;
    expect("listeners[0] delta CRL", "WARN",
           "the CRL of \"CN=Doctor Delta Issuing CA\" names a delta CRL (" + delta_url +
               ") that crl_files lack");
    expect("listeners[0] delta CRL", "WARN", "turn on client_auth.crl_refresh");
    EXPECT_EQ(delta_findings(), 1) << output_;

    run({.crl_files = {"root.crl", "delta-base.crl", "delta-delta.crl"}, .trusted_cas = "delta-cas.pem"});
    expect("crl_files[2]", "PASS", "delta CRL of \"CN=Doctor Delta Issuing CA\"");
    EXPECT_EQ(delta_findings(), 0) << output_;
    run({.crl_files = {"root.crl", "delta-base.crl"},
         .client_auth = "      crl_refresh: {interval: 1h}\n",
         .trusted_cas = "delta-cas.pem"});
    EXPECT_EQ(delta_findings(), 0) << output_;
}

TEST_F(DoctorTest, ACrlPastItsNextUpdateFails) {
    run({.crl_files = {"root.crl", "issuing-expired.crl"}});
    EXPECT_EQ(exit_code_, 1) << output_;
    expect("crl_files[1]", "FAIL",
           "issuing-expired.crl: CRL of \"CN=Doctor Issuing CA\" is past its nextUpdate");
    expect("crl_files[1]", "FAIL", "certutil -CRL");
}

TEST_F(DoctorTest, ACrlPastItsNextUpdateOnlyWarnsWithinTheRefreshGrace) {
    run({.crl_files = {"root.crl", "issuing-expired.crl"},
         .client_auth = "      crl_refresh: {grace: 24h}\n"});
    EXPECT_EQ(exit_code_, 0) << output_;
    expect("crl_files[1]", "WARN", "still used within client_auth.crl_refresh.grace");
}

TEST_F(DoctorTest, ACrlOfACaNotInTheTrustFileFails) {
    run({.crl_files = {"root.crl", "issuing.crl", "rogue.crl"}});
    EXPECT_EQ(exit_code_, 1) << output_;
    expect("crl_files[2]", "FAIL", "CRL of \"CN=Doctor Rogue CA\" is not signed by any CA in");
}

TEST_F(DoctorTest, TwoTierTrustWithoutTheRootsCrlFailsNamingTheRoot) {
    run({.crl_files = {"issuing.crl"}});
    EXPECT_EQ(exit_code_, 1) << output_;
    expect("CRL of CA", "FAIL", "no CRL of \"CN=Doctor Root CA\" in client_auth.crl_files");
    expect("CRL of CA", "PASS", "\"CN=Doctor Issuing CA\"");
}

// An issuing CA renewed with a new key: both certificates listed, each key's CRL needed; the findings
// tell the two apart by key.
TEST_F(DoctorTest, ARenewedIssuingCaNeedsTheCrlOfEachKey) {
    const auto key_of = [](const TestCa& ca) {
        return identity::key_id_text(X509_get0_subject_key_id(parse_certificate_pem(ca.cert_pem()).get()));
    };
    const auto old_key = "\"CN=Doctor Issuing CA\" (key " + key_of(pki_->issuing) + ")";
    const auto new_key = "\"CN=Doctor Issuing CA\" (key " + key_of(pki_->renewed) + ")";
    run({.crl_files = {"root.crl", "issuing.crl", "issuing(1).crl"}, .trusted_cas = "device-cas-renewed.pem"},
        "renewed-good");
    EXPECT_EQ(exit_code_, 0) << output_;
    expect("trusted_ca_file CA", "PASS", "CA " + old_key + " (link");
    expect("trusted_ca_file CA", "PASS", "CA " + new_key + " (link");
    expect("crl_files[2]", "PASS", "CRL of " + new_key + ", signed by a listed CA");
    expect("CRL of CA", "PASS", "hold the CRL of " + old_key);
    expect("CRL of CA", "PASS", "hold the CRL of " + new_key);
    expect("accepted by listeners[0]", "PASS", "");

    run({.crl_files = {"root.crl", "issuing.crl"}, .trusted_cas = "device-cas-renewed.pem"}, "renewed-good");
    EXPECT_EQ(exit_code_, 1) << output_;
    expect("CRL of CA", "FAIL", "no CRL of " + new_key + " in client_auth.crl_files");
    expect("CRL of CA", "FAIL", "\"<CA name>(1).crl\" for its second key");
    expect("CRL of CA", "PASS", "hold the CRL of " + old_key);
    expect("accepted by listeners[0]", "FAIL", "only from another key of that CA");
}

TEST_F(DoctorTest, AGoodDeviceCertificatePasses) {
    run({}, "good");
    EXPECT_EQ(exit_code_, 0) << output_;
    EXPECT_EQ(count("device", "WARN") + count("device", "FAIL"), 0u) << output_;
    expect("accepted by listeners[0]", "PASS", "chains to client_auth.trusted_ca_file");
    expect("UPN", "PASS", "alice@example.test");
    expect("SID extension", "PASS", "S-1-5-21-");
    expect("directory account", "SKIP", "no directory section");
}

TEST_F(DoctorTest, ARevokedDeviceFailsNamingTheCrlAndDate) {
    run({}, "revoked");
    EXPECT_EQ(exit_code_, 1) << output_;
    expect("accepted by listeners[0]", "FAIL",
           "certificate revoked: listed by the CRL of \"CN=Doctor Issuing CA\" (nextUpdate ");
    expect("accepted by listeners[0]", "FAIL", ") as revoked on 20");
}

TEST_F(DoctorTest, ADeviceFromAnUnknownCaFailsNamingItsIssuer) {
    run({}, "rogue");
    EXPECT_EQ(exit_code_, 1) << output_;
    expect("accepted by listeners[0]", "FAIL", "issuer=\"CN=Doctor Rogue CA\"");
    expect("accepted by listeners[0]", "FAIL", "not in client_auth.trusted_ca_file");
}

TEST_F(DoctorTest, ADeviceWithoutClientAuthenticationEkuFails) {
    run({}, "no-eku");
    EXPECT_EQ(exit_code_, 1) << output_;
    expect("Client Authentication EKU", "FAIL", "require_client_auth_eku refuses it");
}

TEST_F(DoctorTest, ADeviceWithoutUpnFails) {
    run({}, "no-upn");
    EXPECT_EQ(exit_code_, 1) << output_;
    expect("UPN", "FAIL", "no UPN otherName");
}

TEST_F(DoctorTest, ADeviceWithoutSidExtensionWarnsUnderPreferredAndFailsUnderRequired) {
    run({}, "no-sid");
    EXPECT_EQ(exit_code_, 0) << output_;
    expect("SID extension", "WARN", "identity.strong_mapping preferred");
    run({.strong_mapping = "required"}, "no-sid");
    EXPECT_EQ(exit_code_, 1) << output_;
    expect("SID extension", "FAIL", "identity.strong_mapping is required");
}

}  // namespace
}  // namespace easgate::testing
