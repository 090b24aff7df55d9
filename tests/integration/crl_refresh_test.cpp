// client_auth.crl_refresh: CRLs fetched from the CAs' CRL Distribution Points (served here by the
// suite's CdpServer, the URLs in the test PKI's certificates) replace the crl_files without a restart.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <thread>

#include "gateway_fixture.hpp"
#include "raw_device.hpp"

namespace easgate::testing {
namespace {

class CrlRefreshTest : public GatewayTest {
protected:
    void start_refreshing(const std::string& refresh, std::vector<std::string> crl_files = {}) {
        start_gateway({.with_crls = true,
                       .crl_files = std::move(crl_files),
                       .client_auth = "      crl_refresh: " + refresh + "\n"});
    }

    // Whether the device is refused within timeout (polling, as a phone would retry).
    bool refused_within(const std::string& device, std::chrono::seconds timeout) {
        const auto until = std::chrono::steady_clock::now() + timeout;
        while (std::chrono::steady_clock::now() < until) {
            if (curl(device, sync_path).exit_code != 0) return true;
            std::this_thread::sleep_for(std::chrono::milliseconds(200));
        }
        return false;
    }
};

TEST_F(CrlRefreshTest, ANewlyPublishedRevocationIsEnforcedWithoutRestart) {
    start_refreshing("{interval: 1s, timeout: 1s}");
    curl_report("frank", sync_path);  // teaches easgate the issuing CA's distribution point
    pki().issuing->revoke(pki().frank);
    pki().cdp.publish("issuing.crl", pki().issuing->crl_pem());
    EXPECT_TRUE(refused_within("frank", std::chrono::seconds(10))) << gateway_log();
    EXPECT_FALSE(wait_for_gateway_log("certificate revoked").empty());
    EXPECT_NE(gateway_log().find("CRL refresh: CRL of \"CN=easgate test issuing CA\""), std::string::npos)
        << gateway_log();
    curl_report("alice", sync_path);
    const auto text = metrics();
    EXPECT_NE(text.find("easgate_crl_updates_total "), std::string::npos) << text;
    EXPECT_NE(text.find("easgate_crl_distribution_points_failing 0\n"), std::string::npos) << text;
}

// A session made before a revocation is no way around it: when the CRLs change, a resumed session's
// certificate is checked again. A device still in good standing goes on resuming.
TEST_F(CrlRefreshTest, AResumedSessionIsCheckedAgainstNewCrls) {
    start_refreshing("{interval: 1s, timeout: 1s}");
    auto frank = device_tls(pki_dir() / "server-ca.pem", pki_dir() / "frank.pem", pki_dir() / "frank.key");
    auto alice = device_tls(pki_dir() / "server-ca.pem", pki_dir() / "alice.pem", pki_dir() / "alice.key");
    const auto connect = [&](boost::asio::ssl::context& tls, SSL_SESSION* session) {
        return exchange_resuming(
            gateway_port(), tls,
            std::string("GET ") + sync_path + " HTTP/1.1\r\nHost: mail\r\nConnection: close\r\n\r\n",
            session);
    };
    auto franks = connect(frank, nullptr);  // also teaches easgate the issuing CA's distribution point
    ASSERT_TRUE(franks.response.starts_with("HTTP/1.1 200")) << franks.response;
    franks = connect(frank, franks.session.get());
    ASSERT_TRUE(franks.resumed) << "the session resumes while the certificate is good";
    auto alices = connect(alice, nullptr);
    ASSERT_TRUE(alices.response.starts_with("HTTP/1.1 200")) << alices.response;

    pki().issuing->revoke(pki().frank);
    pki().cdp.publish("issuing.crl", pki().issuing->crl_pem());
    // Reconnecting as a phone does, offering its newest session, until the new CRL is in.
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (!franks.response.empty() && std::chrono::steady_clock::now() < until) {
        auto next = connect(frank, franks.session.get());
        if (!next.session) next.session = std::move(franks.session);
        franks = std::move(next);
    }
    EXPECT_EQ(franks.response, "") << "refused once the new CRL is in";
    EXPECT_FALSE(wait_for_gateway_log("certificate revoked").empty()) << gateway_log();
    EXPECT_FALSE(connect(frank, franks.session.get()).resumed) << "the refused session is forgotten";

    alices = connect(alice, alices.session.get());
    EXPECT_TRUE(alices.resumed);
    EXPECT_TRUE(alices.response.starts_with("HTTP/1.1 200")) << alices.response;
}

// Checked again, a resumed session's certificate goes with the chain the device sent when the session
// was made: with only the root listed, a device that sends its issuing CA goes on resuming.
TEST_F(CrlRefreshTest, AResumedSessionIsCheckedAgainWithTheIssuingCaTheDeviceSent) {
    start_gateway({.trusted_ca_file = "device-root.pem",
                   .with_crls = true,
                   .client_auth = "      issuers: any_below_listed\n"
                                  "      crl_refresh: {interval: 1s, timeout: 1s}\n"});
    auto dave = device_tls(pki_dir() / "server-ca.pem", pki_dir() / "chained.pem", pki_dir() / "chained.key");
    const std::string request =
        std::string("GET ") + sync_path + " HTTP/1.1\r\nHost: mail\r\nConnection: close\r\n\r\n";
    auto daves = exchange_resuming(gateway_port(), dave, request, nullptr);
    ASSERT_TRUE(daves.response.starts_with("HTTP/1.1 200")) << daves.response << gateway_log();
    pki().cdp.publish("root.crl", pki().root.crl_pem());  // a newer CRL of the root
    ASSERT_FALSE(wait_for_gateway_log("root.crl is in use").empty()) << gateway_log();
    daves = exchange_resuming(gateway_port(), dave, request, daves.session.get());
    EXPECT_TRUE(daves.resumed);
    EXPECT_TRUE(daves.response.starts_with("HTTP/1.1 200")) << daves.response << gateway_log();
}

TEST_F(CrlRefreshTest, ADeltaCrlRevocationIsEnforced) {
    start_refreshing("{interval: 1s, timeout: 1s}");
    curl_report("gina", sync_path);
    const auto base = pki().issuing->crl_pem();
    pki().issuing->revoke(pki().gina);
    pki().cdp.publish("issuing.crl", base);  // gina is only in the delta
    pki().cdp.publish("issuing-delta.crl", pki().issuing->delta_crl_pem());
    EXPECT_TRUE(refused_within("gina", std::chrono::seconds(10))) << gateway_log();
    EXPECT_FALSE(wait_for_gateway_log("certificate revoked").empty());
    EXPECT_GT(pki().cdp.requests("issuing-delta.crl"), 0);
}

TEST_F(CrlRefreshTest, WhenTheCdpIsDownTheCachedCrlIsUsedAndTheMetricRises) {
    start_refreshing("{interval: 1s, timeout: 1s}");
    curl_report("alice", sync_path);
    pki().cdp.stop();
    EXPECT_FALSE(
        wait_for_gateway_log("CRL refresh from " + pki().cdp.url("issuing.crl") + " failed").empty());
    curl_report("alice", sync_path);
    expect_refused("revoked", "certificate revoked");
    const auto text = metrics();
    EXPECT_NE(text.find("easgate_crl_distribution_points_failing "), std::string::npos) << text;
    EXPECT_EQ(text.find("easgate_crl_distribution_points_failing 0\n"), std::string::npos) << text;
    EXPECT_EQ(text.find("easgate_crl_fetch_failures_total 0\n"), std::string::npos) << text;
}

TEST_F(CrlRefreshTest, AnExpiredSeedIsReplacedFromTheCdp) {
    start_refreshing("{interval: 1h}", {"device-root.crl", "issuing-ca-expired.crl", "retired-ca.crl"});
    // The first device is refused, and names the distribution point of its CA.
    expect_refused("alice", "CRL has expired");
    EXPECT_FALSE(wait_for_gateway_log("CRL refresh: CRL of \"CN=easgate test issuing CA\"").empty());
    curl_report("alice", sync_path);
}

// Without the issuing CA's CRL in crl_files, only a device's certificate names where it is: the
// first device after a start used to be refused while easgate fetched it. Kept in cache_dir, the
// CRL fetched before a restart checks devices after it, even with the CDP down.
TEST_F(CrlRefreshTest, AfterARestartDevicesAreCheckedAgainstTheKeptCrl) {
    const auto cache = make_temp_dir("crl-cache") / "kept";  // made by easgate
    const std::string refresh = "{interval: 1h, cache_dir: " + cache.string() + "}";
    start_refreshing(refresh, {"device-root.crl", "retired-ca.crl"});
    expect_refused("alice", "unable to get certificate CRL");  // and learns where the CRL is
    EXPECT_FALSE(wait_for_gateway_log("CRL refresh: CRL of \"CN=easgate test issuing CA\"").empty());
    curl_report("alice", sync_path);
    EXPECT_EQ(stop_gateway(), 0);
    // The next easgate appends to the same log: only its own lines may tell when it is up.
    std::filesystem::rename(work_dir() / "easgate.err", work_dir() / "easgate-before-restart.err");

    pki().cdp.stop();
    start_refreshing(refresh, {"device-root.crl", "retired-ca.crl"});
    curl_report("alice", sync_path);
    expect_refused("revoked", "certificate revoked");
    EXPECT_NE(gateway_log().find("CRL cache: CRL of \"CN=easgate test issuing CA\""), std::string::npos)
        << gateway_log();
    std::filesystem::remove_all(cache.parent_path());
}

// The issuing CA renewed with a new key, both its certificates listed and only the old key's CRL
// in crl_files: the first device of the new key is refused, naming the key's missing CRL, and
// teaches easgate its distribution point; from then on each key's CRL decides for its own devices.
TEST_F(CrlRefreshTest, ARenewedCaKeysCrlIsFetchedAndDecidesForItsDevicesOnly) {
    start_gateway(
        {.trusted_ca_file = "device-cas-renewed.pem",
         .with_crls = true,
         .crl_files = {"device-root.crl", "issuing-ca.crl", "issuing-ca-delta.crl", "retired-ca.crl"},
         .client_auth = "      crl_refresh: {interval: 1s, timeout: 1s}\n"});
    curl_report("alice", sync_path);
    expect_refused("hank", "from the key that issued this certificate");
    EXPECT_FALSE(wait_for_gateway_log("issuing(1).crl is in use").empty()) << gateway_log();
    curl_report("hank", sync_path);

    pki().renewed->revoke(pki().hank);
    pki().renewed->revoke(pki().frank.serial_hex);  // a serial of the old key: not this CRL's
    pki().cdp.publish("issuing(1).crl", pki().renewed->crl_pem());
    EXPECT_TRUE(refused_within("hank", std::chrono::seconds(10))) << gateway_log();
    curl_report("frank", sync_path);
    curl_report("alice", sync_path);
    expect_refused("revoked", "certificate revoked");  // the old key's CRL still in use
}

TEST_F(CrlRefreshTest, AnExpiredCrlIsUsedWithinTheGrace) {
    pki().cdp.stop();
    start_refreshing("{interval: 1h, grace: 12h}", {"device-root.crl", "issuing-ca-expired.crl",
                                                    "issuing-ca-expired-delta.crl", "retired-ca.crl"});
    curl_report("alice", sync_path);
    expect_refused("revoked", "certificate revoked");
    EXPECT_FALSE(wait_for_gateway_log("is past its nextUpdate and no newer one could be fetched").empty());
}

}  // namespace
}  // namespace easgate::testing
