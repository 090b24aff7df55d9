// The refresher's ldap:/// distribution points (AD CS's first CDP location): read with the directory
// the application hands it, skipped without one. The lab tests read them from a real directory.
#include "easgate/identity/crl_refresher.hpp"

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <functional>
#include <memory>
#include <optional>

#include "test_pki.hpp"

namespace easgate::identity {
namespace {

using testing::CertSpec;
using testing::TestCa;

constexpr const char* published =
    "ldap:///CN=Corp%20CA,CN=ca01,CN=CDP,CN=Public%20Key%20Services,CN=Services,CN=Configuration,"
    "DC=corp,DC=example?certificateRevocationList?base?objectClass=cRLDistributionPoint";

class CrlRefresherDirectoryTest : public ::testing::Test {
protected:
    CrlRefresherDirectoryTest() : ca(TestCa::create_root("Corp CA")) {
        ca.publish_at(published);
        std::vector<X509Ptr> anchors;
        anchors.push_back(testing::parse_certificate_pem(ca.cert_pem()));
        store = std::make_shared<RevocationStore>(std::move(anchors), std::vector<X509CrlPtr>{}, true,
                                                  std::chrono::hours(1));
        CertSpec spec;
        spec.upn = "alice@corp.example";
        store->learn_distribution_points(testing::parse_certificate_pem(ca.issue(spec).cert_pem).get());
    }

    // Runs a refresher until it has fetched once, or for a second.
    void refresh_with(DirectoryCrlReader directory) {
        boost::asio::io_context context;
        const auto refresher = std::make_shared<CrlRefresher>(
            context.get_executor(), store, config::CrlRefresh{}, counters, std::move(directory));
        refresher->start();
        const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(1);
        while (counters->fetches == 0 && std::chrono::steady_clock::now() < until)
            context.run_for(std::chrono::milliseconds(10));
        context.run_for(std::chrono::milliseconds(50));
        refresher->stop();
        context.run_for(std::chrono::milliseconds(10));
    }

    TestCa ca;
    std::shared_ptr<RevocationStore> store;
    std::shared_ptr<CrlRefreshCounters> counters = std::make_shared<CrlRefreshCounters>();
};

TEST_F(CrlRefresherDirectoryTest, ALocationInTheDirectoryIsReadWithIt) {
    std::vector<std::string> asked;
    refresh_with([&](const std::string& url, std::chrono::milliseconds) {
        asked.push_back(url);
        return [](std::string crl) -> boost::asio::awaitable<common::Result<std::string>> {
            co_return crl;
        }(ca.crl_pem());
    });
    EXPECT_EQ(asked, std::vector<std::string>{published});
    EXPECT_EQ(counters->fetches, 1u);
    EXPECT_EQ(counters->updates, 1u);
    EXPECT_EQ(counters->failures, 0u);
    ASSERT_EQ(store->crl_next_updates().size(), 1u);
    EXPECT_NE(store->crl_next_updates()[0].name.find("Corp CA"), std::string::npos);
}

// A CRL of many MiB takes seconds to parse and check: that happens on slow_work, never on the
// refresher's own (accept) thread, which goes on meanwhile.
TEST_F(CrlRefresherDirectoryTest, WhatIsFetchedIsParsedOnSlowWork) {
    boost::asio::io_context context;
    boost::asio::io_context slow_work;
    const DirectoryCrlReader directory = [&](const std::string&, std::chrono::milliseconds) {
        return [](std::string crl) -> boost::asio::awaitable<common::Result<std::string>> {
            co_return crl;
        }(ca.crl_pem());
    };
    const auto refresher = std::make_shared<CrlRefresher>(context.get_executor(), store, config::CrlRefresh{},
                                                          counters, directory, slow_work.get_executor());
    refresher->start();
    for (int i = 0; i < 100 && counters->fetches == 0; ++i) context.run_for(std::chrono::milliseconds(10));
    context.run_for(std::chrono::milliseconds(50));
    EXPECT_EQ(counters->fetches, 1u);
    EXPECT_EQ(counters->updates, 0u) << "parsed on the refresher's thread";
    EXPECT_TRUE(store->crl_next_updates().empty());

    slow_work.run_for(std::chrono::milliseconds(50));  // parses and installs, then hands back
    EXPECT_EQ(counters->updates, 1u);
    EXPECT_EQ(store->crl_next_updates().size(), 1u);
    context.run_for(std::chrono::milliseconds(50));
    refresher->stop();
    context.run_for(std::chrono::milliseconds(10));
}

// A store trusting ca that learned one CRL Distribution Point with locations (fullName URIs, in
// this order) from a device certificate.
std::shared_ptr<RevocationStore> store_learning(const TestCa& ca, const std::vector<std::string>& locations) {
    std::vector<X509Ptr> anchors;
    anchors.push_back(testing::parse_certificate_pem(ca.cert_pem()));
    const auto store = std::make_shared<RevocationStore>(std::move(anchors), std::vector<X509CrlPtr>{}, true,
                                                         std::chrono::hours(1));
    std::vector<std::uint8_t> uris;  // each a URI GeneralName, one after the other
    for (const auto& url : locations) {
        const auto uri = testing::der_tlv(0x86, {testing::der_text(url)});
        uris.insert(uris.end(), uri.begin(), uri.end());
    }
    CertSpec spec;
    spec.upn = "alice@corp.example";
    spec.extra_extensions.push_back(
        {"2.5.29.31",  // CRL Distribution Points: one point, fullName with the URIs
         testing::der_tlv(
             0x30, {testing::der_tlv(0x30, {testing::der_tlv(0xa0, {testing::der_tlv(0xa0, {uris})})})})});
    store->learn_distribution_points(testing::parse_certificate_pem(ca.issue(spec).cert_pem).get());
    return store;
}

// Runs a refresher over store's points, reading "ldap:///" locations with answer (URL → the CRL
// served there, or none), until `done` holds (5 s at most); the URLs asked, in order.
std::vector<std::string> refresh_once(
    const std::shared_ptr<RevocationStore>& store, const std::shared_ptr<CrlRefreshCounters>& counters,
    const std::function<bool()>& done,
    const std::function<std::optional<std::string>(const std::string&)>& answer) {
    boost::asio::io_context context;
    std::vector<std::string> asked;
    const DirectoryCrlReader directory = [&](const std::string& url, std::chrono::milliseconds) {
        asked.push_back(url);
        return [](std::optional<std::string> crl) -> boost::asio::awaitable<common::Result<std::string>> {
            if (!crl) co_return common::Failure::unavailable("no such entry");
            co_return *crl;
        }(answer(url));
    };
    const auto refresher = std::make_shared<CrlRefresher>(context.get_executor(), store, config::CrlRefresh{},
                                                          counters, directory);
    refresher->start();
    for (int i = 0; i < 500 && !done(); ++i) context.run_for(std::chrono::milliseconds(10));
    refresher->stop();
    context.run_for(std::chrono::milliseconds(10));
    return asked;
}

// A CRL Distribution Point's locations are alternatives, tried in the certificate's order until one
// gives the CRL: one that fails while a later one serves is no failure of the point.
TEST(CrlRefresherAlternatives, TheLocationsOfAPointAreTriedInOrderUntilOneServes) {
    auto ca = TestCa::create_root("Corp CA");
    const std::string unpublished = "ldap:///CN=Corp%20CA,CN=ca01?certificateRevocationList";
    const std::string published = "ldap:///CN=Corp%20CA,CN=ca02?certificateRevocationList";
    const auto store = store_learning(ca, {unpublished, "https://pki.corp.example/ca.crl", published});
    EXPECT_EQ(store->distribution_points(), (std::vector<DistributionPoint>{{unpublished, published}}));

    const auto counters = std::make_shared<CrlRefreshCounters>();
    const auto asked = refresh_once(
        store, counters, [&] { return counters->updates > 0; },
        [&](const std::string& url) -> std::optional<std::string> {
            if (url == published) return ca.crl_pem();
            return std::nullopt;
        });
    EXPECT_EQ(asked, (std::vector<std::string>{unpublished, published}));
    EXPECT_EQ(counters->updates, 1u);
    EXPECT_EQ(counters->failures, 0u);
    EXPECT_EQ(counters->failing, 0u);
}

// A location serving a CRL past its nextUpdate (an old copy left there, or one replayed on the way)
// is no answer: the next location is asked, and with none better the point is failing.
TEST(CrlRefresherAlternatives, ALocationServingAnExpiredCrlIsNoAnswer) {
    auto ca = TestCa::create_root("Corp CA");
    const std::string stale = "ldap:///CN=Corp%20CA,CN=old?certificateRevocationList";
    const std::string current = "ldap:///CN=Corp%20CA,CN=ca01?certificateRevocationList";
    const auto store = store_learning(ca, {stale, current});
    const std::string expired_crl = ca.crl_pem(-std::chrono::hours(2));
    const std::string current_crl = ca.crl_pem();

    const auto counters = std::make_shared<CrlRefreshCounters>();
    const auto asked = refresh_once(
        store, counters, [&] { return counters->updates > 1; },  // the stale one, then the current
        [&](const std::string& url) -> std::optional<std::string> {
            return url == stale ? expired_crl : current_crl;
        });
    EXPECT_EQ(asked, (std::vector<std::string>{stale, current}));
    EXPECT_EQ(counters->failures, 0u);
    ASSERT_EQ(store->crl_next_updates().size(), 1u);
    EXPECT_GT(store->crl_next_updates()[0].seconds, 0);  // the current one is in use

    const auto nowhere = std::make_shared<CrlRefreshCounters>();
    const auto fresh_store = store_learning(ca, {stale, current});
    std::uint64_t failing_while_running = 0;
    const auto failed = [&] {
        failing_while_running = nowhere->failing;
        return nowhere->failures > 0;
    };
    refresh_once(fresh_store, nowhere, failed,
                 [&](const std::string&) -> std::optional<std::string> { return expired_crl; });
    EXPECT_EQ(nowhere->failures, 1u);
    EXPECT_EQ(failing_while_running, 1u);
    // The gauge outlives refreshers (a reload starts new ones, which count their failing points
    // anew): a stopped one takes its share back, or each reload during an outage would add one.
    EXPECT_EQ(nowhere->failing, 0u);
    ASSERT_EQ(fresh_store->crl_next_updates().size(), 1u);  // taken all the same: better than none
    EXPECT_LT(fresh_store->crl_next_updates()[0].seconds, 0);
}

// A reload stops the refreshers and starts new ones: on a store the reload kept, the new one counts
// on the points the stopped one found failing, so the gauge neither dips nor doubles.
TEST(CrlRefresherReload, TheFailingPointsPassToTheNextRefresherOfTheStore) {
    auto ca = TestCa::create_root("Corp CA");
    const auto store = store_learning(ca, {"ldap:///CN=Corp%20CA,CN=ca01?certificateRevocationList"});
    const auto counters = std::make_shared<CrlRefreshCounters>();
    boost::asio::io_context context;  // never run: no fetch
    const auto refresher = [&] {
        return std::make_shared<CrlRefresher>(context.get_executor(), store, config::CrlRefresh{}, counters);
    };
    const auto before = refresher();
    before->start({"ldap:///CN=Corp%20CA,CN=ca01?certificateRevocationList"});
    EXPECT_EQ(counters->failing, 1u);
    const auto failing = before->stop();
    EXPECT_EQ(counters->failing, 0u);
    const auto after = refresher();
    after->start(failing);
    EXPECT_EQ(counters->failing, 1u);
    EXPECT_EQ(after->stop(), failing);
    EXPECT_EQ(counters->failing, 0u);
}

TEST_F(CrlRefresherDirectoryTest, WithoutADirectoryTheLocationIsSkippedNotFailed) {
    refresh_with({});
    EXPECT_EQ(counters->fetches, 0u);
    EXPECT_EQ(counters->failures, 0u);
    EXPECT_EQ(counters->failing, 0u);
    EXPECT_TRUE(store->crl_next_updates().empty());
}

}  // namespace
}  // namespace easgate::identity
