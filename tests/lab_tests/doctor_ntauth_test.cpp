// `easgate doctor` compares the CAs that may issue device certificates with AD's NTAuth store (the
// CAs Windows trusts for certificate logons), as the lab's enterprise CA published itself there.
#include <string>
#include <vector>

#include "doctor_fixture.hpp"
#include "test_pki.hpp"

namespace easgate::testing {
namespace {

using DoctorNtAuthTest = DoctorTest;

// The lab's issuing CA is in the forest's NTAuth store, as an enterprise CA publishes itself. A
// second issuing CA listed in trusted_ca_file (a standalone one, for Wi-Fi) is not: Windows trusts it
// for no logon, and the doctor says easgate would let it issue device certificates.
TEST_F(DoctorNtAuthTest, AnIssuingCaOutsideNtAuthWarns) {
    const auto good = doctor(write_config());
    EXPECT_EQ(good.verdict("tls", "listeners[0] NTAuth"), "PASS") << good.output;
    EXPECT_NE(good.text("tls", "listeners[0] NTAuth").find("\"CN=easgate lab Issuing CA,O=easgate lab\""),
              std::string::npos)
        << good.output;
    const auto root = TestCa::create_root("easgate lab Wi-Fi Root CA");
    const auto wifi = root.create_intermediate("easgate lab Wi-Fi CA");
    write_file(work_ / "cas.pem", read_file(lab().at("LAB_CA_FILE")) + wifi.cert_pem() + root.cert_pem());
    const auto run = doctor(write_config({.trusted_ca_file = (work_ / "cas.pem").string()}));
    EXPECT_EQ(run.exit_code, 0) << run.output;  // a warning
    bool warned = false;
    for (const auto& f : run.report["checks"]) {
        if (f["check"] != "listeners[0] NTAuth" || f["verdict"] != "WARN") continue;
        warned = true;
        EXPECT_NE(
            f["found"].get<std::string>().find("CA \"CN=easgate lab Wi-Fi CA\" issues device certificates "
                                               "here, but is not in AD's NTAuth store"),
            std::string::npos)
            << run.output;
        EXPECT_NE(f["remedy"].get<std::string>().find("certutil -dspublish -f <CA>.cer NTAuthCA"),
                  std::string::npos);
    }
    EXPECT_TRUE(warned) << run.output;
}

// Only the root listed: the issuing CA Windows trusts for logons is not, so its devices are refused.
// That is the warning; the root's own absence from NTAuth is not (NTAuth holds issuing CAs).
TEST_F(DoctorNtAuthTest, AnNtAuthCaUnderTheListedRootButNotListedWarns) {
    write_file(work_ / "root.pem", read_file(lab().at("LAB_ROOT_CA_CERT")));
    const auto run = doctor(write_config({.trusted_ca_file = (work_ / "root.pem").string()}));
    std::vector<std::string> warnings;
    for (const auto& f : run.report["checks"])
        if (f["check"] == "listeners[0] NTAuth" && f["verdict"] == "WARN") warnings.push_back(f["found"]);
    ASSERT_EQ(warnings.size(), 1u) << run.output;
    EXPECT_NE(warnings.front().find("AD's NTAuth store holds CA \"CN=easgate lab Issuing CA,O=easgate lab\", "
                                    "issued by a CA listed here but not listed itself"),
              std::string::npos)
        << run.output;
}

// The root listed with any_below_listed: the NTAuth CA below it issues devices, as Windows trusts it.
TEST_F(DoctorNtAuthTest, AnNtAuthCaBelowTheRootPassesWhenAnyBelowIsAllowed) {
    write_file(work_ / "root.pem", read_file(lab().at("LAB_ROOT_CA_CERT")));
    const auto run = doctor(write_config({.trusted_ca_file = (work_ / "root.pem").string(),
                                          .client_auth = "      issuers: any_below_listed\n"}));
    EXPECT_EQ(run.verdict("tls", "listeners[0] NTAuth"), "PASS") << run.output;
    EXPECT_NE(run.text("tls", "listeners[0] NTAuth")
                  .find("\"CN=easgate lab Issuing CA,O=easgate lab\" (below \"CN=easgate lab Root CA"),
              std::string::npos)
        << run.output;
}

}  // namespace
}  // namespace easgate::testing
