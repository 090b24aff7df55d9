// `easgate doctor --json` on the CRLs: the files configured, the distribution points crl_refresh
// will fetch, the cache a start would load, two-tier trust and a renewed CA's second key; one thing
// broken per test, each finding checked for its cause.
#include <gtest/gtest.h>
#include <openssl/x509v3.h>

#include "cdp_server.hpp"
#include "doctor_fixture.hpp"
#include "easgate/config/config.hpp"
#include "easgate/identity/crl_cache.hpp"
#include "easgate/identity/trust_store.hpp"

namespace easgate::testing {
namespace {

using DoctorCrlTest = DoctorTest;

// The root's CDP (in the issuing CA's certificate) is 127.0.0.1:9, where nothing listens.
TEST_F(DoctorCrlTest, AnUnreachableDistributionPointWarnsWithWhatEasgateDoesMeanwhile) {
    run({.client_auth = "      crl_refresh: {interval: 1h}\n"});
    EXPECT_EQ(exit_code_, 0) << output_;
    const std::string check = "CRL refresh from http://127.0.0.1:9/doctor-root.crl";
    expect(check, "WARN",
           "connecting: Connection refused: easgate keeps the CRLs it holds until their nextUpdate");
    expect(check, "WARN", "let this host reach the URL over http");
    expect("CRL refresh", "PASS", "give --certificate with a device's certificate");
}

TEST_F(DoctorCrlTest, CrlRefreshFetchesEachDistributionPointAsEasgateWill) {
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
    issuing.issue(DoctorPki::device("alice@example.test")).write(dir, "cdp-device");
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
TEST_F(DoctorCrlTest, ADeviceRevokedSinceCrlFilesWereCopiedFailsByWhatCrlRefreshFetches) {
    CdpServer cdp;
    auto issuing = pki_->root.create_intermediate("Doctor Stolen Issuing CA");
    issuing.publish_at(cdp.url("stolen.crl"), cdp.url("stolen+.crl"));
    const auto& dir = pki_->dir;
    write_file(dir / "stolen-cas.pem", issuing.cert_pem() + pki_->root.cert_pem());
    const auto phone = issuing.issue(DoctorPki::device("alice@example.test"));
    phone.write(dir, "stolen-phone");
    const auto base = issuing.crl_pem(hours(7 * 24));
    write_file(dir / "stolen-base.crl", base);
    cdp.publish("stolen.crl", base);
    issuing.revoke(phone);
    cdp.publish("stolen+.crl", issuing.delta_crl_pem());
    DoctorSetup setup{.crl_files = {"root.crl", "stolen-base.crl"}, .trusted_cas = "stolen-cas.pem"};

    run(setup, "stolen-phone");  // the base alone would pass it: without its delta, it is refused
    expect("accepted by listeners[0]", "FAIL",
           "unable to get delta CRL: the base CRL of \"CN=Doctor Stolen Issuing CA\" names a delta CRL");
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
TEST_F(DoctorCrlTest, TheCrlCacheIsJudgedAsAStartWouldFindIt) {
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
// nor crl_refresh provides: that CA's devices are refused. Not with the delta in crl_files, nor
// with crl_refresh, which fetches it.
TEST_F(DoctorCrlTest, ABaseCrlWhoseDeltaNothingProvidesFails) {
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
    EXPECT_EQ(exit_code_, 1) << output_;
    expect("listeners[0] delta CRL", "FAIL",
           "the CRL of \"CN=Doctor Delta Issuing CA\" names a delta CRL (" + delta_url +
               ") that crl_files lack and crl_refresh is off: devices of that CA are refused");
    expect("listeners[0] delta CRL", "FAIL", "turn on client_auth.crl_refresh");
    EXPECT_EQ(delta_findings(), 1) << output_;

    run({.crl_files = {"root.crl", "delta-base.crl", "delta-delta.crl"}, .trusted_cas = "delta-cas.pem"});
    expect("crl_files[2]", "PASS", "delta CRL of \"CN=Doctor Delta Issuing CA\"");
    EXPECT_EQ(delta_findings(), 0) << output_;
    run({.crl_files = {"root.crl", "delta-base.crl"},
         .client_auth = "      crl_refresh: {interval: 1h}\n",
         .trusted_cas = "delta-cas.pem"});
    EXPECT_EQ(delta_findings(), 0) << output_;
}

TEST_F(DoctorCrlTest, ACrlPastItsNextUpdateFails) {
    run({.crl_files = {"root.crl", "issuing-expired.crl"}});
    EXPECT_EQ(exit_code_, 1) << output_;
    expect("crl_files[1]", "FAIL",
           "issuing-expired.crl: CRL of \"CN=Doctor Issuing CA\" is past its nextUpdate");
    expect("crl_files[1]", "FAIL", "certutil -CRL");
}

TEST_F(DoctorCrlTest, ACrlPastItsNextUpdateOnlyWarnsWithinTheRefreshGrace) {
    run({.crl_files = {"root.crl", "issuing-expired.crl"},
         .client_auth = "      crl_refresh: {grace: 24h}\n"});
    EXPECT_EQ(exit_code_, 0) << output_;
    expect("crl_files[1]", "WARN", "still used within client_auth.crl_refresh.grace");
}

TEST_F(DoctorCrlTest, ACrlOfACaNotInTheTrustFileFails) {
    run({.crl_files = {"root.crl", "issuing.crl", "rogue.crl"}});
    EXPECT_EQ(exit_code_, 1) << output_;
    expect("crl_files[2]", "FAIL", "CRL of \"CN=Doctor Rogue CA\" is not signed by any CA in");
}

TEST_F(DoctorCrlTest, TwoTierTrustWithoutTheRootsCrlFailsNamingTheRoot) {
    run({.crl_files = {"issuing.crl"}});
    EXPECT_EQ(exit_code_, 1) << output_;
    expect("CRL of CA", "FAIL", "no CRL of \"CN=Doctor Root CA\" in client_auth.crl_files");
    expect("CRL of CA", "PASS", "\"CN=Doctor Issuing CA\"");
}

// An issuing CA renewed with a new key: both certificates listed, each key's CRL needed; the findings
// tell the two apart by key.
TEST_F(DoctorCrlTest, ARenewedIssuingCaNeedsTheCrlOfEachKey) {
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

}  // namespace
}  // namespace easgate::testing
