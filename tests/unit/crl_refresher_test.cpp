// The refresher's ldap:/// distribution points (AD CS's first CDP location): read with the directory
// the application hands it, skipped without one. The lab tests read them from a real directory.
#include "easgate/identity/crl_refresher.hpp"

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <memory>

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

// A CRL Distribution Point's locations are alternatives, tried in the certificate's order until one
// gives the CRL: one that fails while a later one serves is no failure of the point.
TEST(CrlRefresherAlternatives, TheLocationsOfAPointAreTriedInOrderUntilOneServes) {
    auto ca = TestCa::create_root("Corp CA");
    std::vector<X509Ptr> anchors;
    anchors.push_back(testing::parse_certificate_pem(ca.cert_pem()));
    const auto store = std::make_shared<RevocationStore>(std::move(anchors), std::vector<X509CrlPtr>{}, true,
                                                         std::chrono::hours(1));
    const std::string unpublished = "ldap:///CN=Corp%20CA,CN=ca01?certificateRevocationList";
    const std::string published = "ldap:///CN=Corp%20CA,CN=ca02?certificateRevocationList";
    const auto uri = [](const std::string& url) { return testing::der_tlv(0x86, {testing::der_text(url)}); };
    CertSpec spec;
    spec.upn = "alice@corp.example";
    spec.extra_extensions.push_back(
        {"2.5.29.31",  // CRL Distribution Points: one point, fullName with three URIs
         testing::der_tlv(
             0x30, {testing::der_tlv(
                       0x30, {testing::der_tlv(
                                 0xa0, {testing::der_tlv(
                                           0xa0, {uri(unpublished), uri("https://pki.corp.example/ca.crl"),
                                                  uri(published)})})})})});
    store->learn_distribution_points(testing::parse_certificate_pem(ca.issue(spec).cert_pem).get());
    EXPECT_EQ(store->distribution_points(), (std::vector<DistributionPoint>{{unpublished, published}}));

    boost::asio::io_context context;
    const auto counters = std::make_shared<CrlRefreshCounters>();
    std::vector<std::string> asked;
    const DirectoryCrlReader directory = [&](const std::string& url, std::chrono::milliseconds) {
        asked.push_back(url);
        return [](bool served, std::string crl) -> boost::asio::awaitable<common::Result<std::string>> {
            if (!served) co_return common::Failure::unavailable("no entry CN=Corp CA,CN=ca01");
            co_return crl;
        }(url == published, ca.crl_pem());
    };
    const auto refresher = std::make_shared<CrlRefresher>(context.get_executor(), store, config::CrlRefresh{},
                                                          counters, directory);
    refresher->start();
    for (int i = 0; i < 100 && counters->updates == 0; ++i) context.run_for(std::chrono::milliseconds(10));
    refresher->stop();
    context.run_for(std::chrono::milliseconds(10));
    EXPECT_EQ(asked, (std::vector<std::string>{unpublished, published}));
    EXPECT_EQ(counters->updates, 1u);
    EXPECT_EQ(counters->failures, 0u);
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
