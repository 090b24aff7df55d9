// `easgate doctor --certificate` against the lab's real directory: the device certificate's
// account is found (or not) as a request's would be, and the report names the account or the cause.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <optional>

#include "child_process.hpp"
#include "easgate/directory/certificate_mapping.hpp"
#include "easgate/identity/certificate_identity.hpp"
#include "lab_administration.hpp"
#include "lab_environment.hpp"
#include "test_pki.hpp"

namespace easgate::testing {
namespace {

class DoctorCertificateLabTest : public ::testing::Test {
protected:
    void SetUp() override {
        write_file(work_ / "device-cas.pem", ca_.cert_pem());
        write_config("[upn]");
    }
    void write_config(const std::string& mapping) const {
        const auto& lab = LabEnvironment::get();
        write_file(work_ / "easgate.yaml",
                   "listeners:\n" + lab.listener_yaml(0, (work_ / "device-cas.pem").string()) +
                       "upstreams:\n" + lab.upstream_yaml("exchange", "LAB_MAIL_BASE_URL", "per_request") +
                       lab.directory_yaml() + lab.kerberos_yaml() + "identity:\n  mapping: " + mapping +
                       "\n  strong_mapping: preferred\n");
    }
    void TearDown() override { std::filesystem::remove_all(work_); }

    // The "directory account" finding of `easgate doctor --json --certificate` for a device
    // certificate naming upn, valid from not_before (relative to now).
    nlohmann::json account_finding(const std::string& upn,
                                   std::chrono::seconds not_before = CertSpec{}.not_before) {
        CertSpec spec;
        spec.common_name = upn;
        spec.upn = upn;
        spec.not_before = not_before;
        return account_finding(ca_.issue(spec));
    }
    nlohmann::json account_finding(const IssuedCert& device) {
        const auto [cert, key] = device.write(work_, "device");
        const auto result =
            run_command({EASGATE_BINARY, "doctor", "--config", (work_ / "easgate.yaml").string(), "--json",
                         "--certificate", cert.string()});
        output_ = result.out + result.err;
        const auto report = nlohmann::json::parse(result.out, nullptr, false);
        if (report.is_discarded()) return {};
        for (const auto& finding : report["checks"])
            if (finding["check"] == "directory account") return finding;
        return {};
    }

    std::filesystem::path work_ = make_temp_dir("doctor-lab");
    TestCa ca_ = TestCa::create_root("easgate doctor lab test CA");
    std::string output_;
};

TEST_F(DoctorCertificateLabTest, AUsersCertificateMapsToTheirAccountByUpn) {
    const auto finding = account_finding("alice@example.test");
    ASSERT_FALSE(finding.is_null()) << output_;
    EXPECT_EQ(finding["verdict"], "PASS") << output_;
    const auto found = finding["found"].get<std::string>();
    EXPECT_NE(found.find("CN=alice,CN=Users," + LabEnvironment::get().at("LAB_BASE_DN")), std::string::npos)
        << found;
    EXPECT_NE(found.find("mapped by upn"), std::string::npos) << found;
}

TEST_F(DoctorCertificateLabTest, ADisabledAccountFailsWithTheReason) {
    const auto finding = account_finding("carol@example.test");
    ASSERT_FALSE(finding.is_null()) << output_;
    EXPECT_EQ(finding["verdict"], "FAIL") << output_;
    EXPECT_EQ(finding["found"].get<std::string>().rfind("disabled (mapping upn): ", 0), 0u) << output_;
    EXPECT_NE(finding["remedy"].get<std::string>().find("enable the account"), std::string::npos) << output_;
}

// A certificate mapped by UPN alone that is older than alice's account (the lab made it at
// provisioning) was issued to an earlier alice (KB5014754).
TEST_F(DoctorCertificateLabTest, ACertificateOlderThanItsAccountFailsWithBothDates) {
    const auto finding = account_finding("alice@example.test", -std::chrono::days(400));
    ASSERT_FALSE(finding.is_null()) << output_;
    EXPECT_EQ(finding["verdict"], "FAIL") << output_;
    const auto found = finding["found"].get<std::string>();
    EXPECT_EQ(found.rfind("predates_account (mapping upn): ", 0), 0u) << output_;
    EXPECT_NE(found.find(", the account created "), std::string::npos) << found;
    EXPECT_NE(finding["remedy"].get<std::string>().find("new certificate"), std::string::npos) << output_;
}

// As a request would: an explicit mapping listed after upn decides for such a certificate.
TEST_F(DoctorCertificateLabTest, ALaterStrongMappingDecidesForACertificateOlderThanItsAccount) {
    write_config("[upn, alt_security_identities]");
    CertSpec spec;
    spec.upn = "alice@example.test";
    spec.not_before = -std::chrono::days(400);
    const auto device = ca_.issue(spec);
    const auto identity = identity::extract_identity_from_der(device.der);
    ASSERT_TRUE(identity) << identity.error;
    const std::string alice = "CN=alice,CN=Users," + LabEnvironment::get().at("LAB_BASE_DN");
    const auto mapped = as_administrator(
        {"ldapmodify"}, "dn: " + alice + "\nchangetype: modify\nreplace: altSecurityIdentities\n" +
                            "altSecurityIdentities: " +
                            directory::strong_alt_security_identities(*identity.identity).front() + "\n\n");
    ASSERT_EQ(mapped.exit_code, 0) << mapped.err;
    const auto finding = account_finding(device);
    const auto unmapped = as_administrator(
        {"ldapmodify"}, "dn: " + alice + "\nchangetype: modify\ndelete: altSecurityIdentities\n\n");
    EXPECT_EQ(unmapped.exit_code, 0) << "alice is left mapped: " << unmapped.err;
    ASSERT_FALSE(finding.is_null()) << output_;
    EXPECT_EQ(finding["verdict"], "PASS") << output_;
    EXPECT_NE(finding["found"].get<std::string>().find("mapped by alt_security_identities"),
              std::string::npos)
        << output_;
}

TEST_F(DoctorCertificateLabTest, AnUnknownUpnFailsAsNotFound) {
    const auto finding = account_finding("nobody@example.test");
    ASSERT_FALSE(finding.is_null()) << output_;
    EXPECT_EQ(finding["verdict"], "FAIL") << output_;
    EXPECT_EQ(finding["found"].get<std::string>().rfind("not_found: ", 0), 0u) << output_;
    EXPECT_NE(finding["found"].get<std::string>().find("nobody@example.test"), std::string::npos) << output_;
}

// The lab's CAs publish their CRLs to the directory at the ldap:/// location their CDPs name first,
// as AD CS does: the doctor reads them there as easgate will, and through the directory section.
TEST_F(DoctorCertificateLabTest, TheCdpsInTheDirectoryAreReadThroughTheDirectorySection) {
    const auto& lab = LabEnvironment::get();
    write_file(work_ / "easgate.yaml", "listeners:\n" + lab.listener_yaml(0, lab.at("LAB_CA_FILE")) +
                                           "      crl_refresh: {mode: cdp}\nupstreams:\n" +
                                           lab.upstream_yaml("exchange", "LAB_MAIL_BASE_URL", "per_request") +
                                           lab.directory_yaml() + lab.kerberos_yaml());
    const auto result =
        run_command({EASGATE_BINARY, "doctor", "--config", (work_ / "easgate.yaml").string(), "--json",
                     "--certificate", lab.at("LAB_CLIENT_CERT_DIR") + "/alice.pem"});
    const auto report = nlohmann::json::parse(result.out, nullptr, false);
    ASSERT_FALSE(report.is_discarded()) << result.out << result.err;
    int read = 0;
    for (const auto& finding : report["checks"]) {
        const auto check = finding["check"].get<std::string>();
        if (check.rfind("listeners[0] CRL refresh from ldap:///", 0) != 0) continue;
        ++read;
        EXPECT_EQ(finding["verdict"], "PASS") << finding.dump();
        const auto ca = check.find("Issuing%20CA") != std::string::npos ? "CN=easgate lab Issuing CA"
                                                                        : "CN=easgate lab Root CA";
        EXPECT_NE(finding["found"].get<std::string>().find(ca), std::string::npos) << finding.dump();
    }
    // The root's CRL, named by the issuing CA; the issuing CA's, by alice's certificate; its delta
    // CRL, by alice's certificate and the base CRL.
    EXPECT_EQ(read, 3) << result.out;
}

}  // namespace
}  // namespace easgate::testing
