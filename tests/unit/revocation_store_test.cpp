// RevocationStore: which CRLs it takes, and which distribution points it will fetch.
#include "easgate/identity/revocation_store.hpp"

#include <gtest/gtest.h>

#include <chrono>

#include "test_pki.hpp"

namespace easgate::identity {
namespace {

using testing::CertSpec;
using testing::TestCa;

X509CrlPtr crl(const std::string& pem) { return std::move(parse_crls(pem).front()); }

class RevocationStoreTest : public ::testing::Test {
protected:
    RevocationStoreTest() : root(TestCa::create_root("Corp Root CA")) {
        root.publish_at("http://pki.corp.example/root.crl");
        issuing = std::make_unique<TestCa>(root.create_intermediate("Corp Issuing CA"));
        issuing->publish_at("http://pki.corp.example/issuing.crl", "http://pki.corp.example/issuing+.crl");
    }

    RevocationStore make_store(std::vector<X509CrlPtr> seed = {}) {
        std::vector<X509Ptr> anchors;
        anchors.push_back(testing::parse_certificate_pem(issuing->cert_pem()));
        anchors.push_back(testing::parse_certificate_pem(root.cert_pem()));
        return RevocationStore(std::move(anchors), std::move(seed), true, std::chrono::hours(1));
    }

    TestCa root;
    std::unique_ptr<TestCa> issuing;
};

TEST_F(RevocationStoreTest, TakesOnlyNewerCrlsSignedByAListedCa) {
    auto store = make_store();
    const auto first = issuing->crl_pem();
    EXPECT_EQ(store.offer(crl(first)), RevocationStore::Offer::installed);
    EXPECT_EQ(store.offer(crl(first)), RevocationStore::Offer::not_newer);
    EXPECT_EQ(store.offer(crl(issuing->crl_pem())), RevocationStore::Offer::installed);
    EXPECT_EQ(store.offer(crl(TestCa::create_root("Rogue CA").crl_pem())),
              RevocationStore::Offer::unknown_issuer);
    EXPECT_EQ(store.offer(crl(TestCa::create_root("Corp Issuing CA").crl_pem())),
              RevocationStore::Offer::bad_signature);
}

// A CA renewed with a new key: both its certificates listed, a CRL of each key held side by side,
// each replaced only by a newer one of its own key.
TEST_F(RevocationStoreTest, KeepsTheCrlOfEachKeyOfARenewedCa) {
    auto renewed = root.create_intermediate("Corp Issuing CA");
    std::vector<X509Ptr> anchors;
    for (const auto* ca : {issuing.get(), &renewed, &root})
        anchors.push_back(testing::parse_certificate_pem(ca->cert_pem()));
    RevocationStore store(std::move(anchors), {}, true, std::chrono::hours(1));
    const auto old_key_crl = issuing->crl_pem();
    const auto new_key_crl = renewed.crl_pem();
    EXPECT_EQ(store.offer(crl(old_key_crl)), RevocationStore::Offer::installed);
    EXPECT_EQ(store.offer(crl(new_key_crl)), RevocationStore::Offer::installed);
    EXPECT_EQ(store.crl_next_updates().size(), 2u);
    EXPECT_EQ(store.offer(crl(old_key_crl)), RevocationStore::Offer::not_newer);
    EXPECT_EQ(store.offer(crl(new_key_crl)), RevocationStore::Offer::not_newer);
    EXPECT_EQ(store.offer(crl(renewed.crl_pem())), RevocationStore::Offer::installed);
    EXPECT_EQ(store.offer(crl(old_key_crl)), RevocationStore::Offer::not_newer);
    EXPECT_EQ(store.crl_next_updates().size(), 2u);
}

TEST_F(RevocationStoreTest, LearnsDistributionPointsFromListedCasAndTheirCertificatesOnly) {
    std::vector<X509CrlPtr> seed;
    seed.push_back(crl(issuing->crl_pem()));
    auto store = make_store(std::move(seed));
    EXPECT_EQ(store.distribution_points(),
              std::vector<DistributionPoint>{{"http://pki.corp.example/issuing+.crl"}});
    store.learn_from_anchors();  // the issuing CA names its root's CRL
    CertSpec spec;
    spec.upn = "alice@corp.example";
    store.learn_distribution_points(testing::parse_certificate_pem(issuing->issue(spec).cert_pem).get());
    auto forger = TestCa::create_root("Corp Issuing CA");
    forger.publish_at("http://intranet.corp.example/admin?drop");
    store.learn_distribution_points(testing::parse_certificate_pem(forger.issue(spec).cert_pem).get());
    // AD CS's ldap:/// location is read from the directory; one naming a server, or https, is not.
    for (const char* url : {"ldap:///CN=Corp%20Issuing%20CA?certificateRevocationList",
                            "ldap://ca.corp.example/CN=Corp%20Issuing%20CA?certificateRevocationList",
                            "https://pki.corp.example/issuing.crl"}) {
        issuing->publish_at(url);
        store.learn_distribution_points(testing::parse_certificate_pem(issuing->issue(spec).cert_pem).get());
    }
    // Base CRLs' points before delta CRLs' ("issuing+.crl" sorts before "issuing.crl"): a round
    // fetches a CA's new base before the delta built on it.
    EXPECT_EQ(store.distribution_points(),
              (std::vector<DistributionPoint>{{"http://pki.corp.example/issuing.crl"},
                                              {"http://pki.corp.example/root.crl"},
                                              {"ldap:///CN=Corp%20Issuing%20CA?certificateRevocationList"},
                                              {"http://pki.corp.example/issuing+.crl"}}));
}

// A base CRL fetched for the first time names where its CA publishes delta CRLs: the refresher is
// woken to fetch that at once, not an interval later; a newer base naming the same place is not news.
TEST_F(RevocationStoreTest, ABaseCrlNamingANewDeltaLocationWakesTheRefresher) {
    auto store = make_store();
    int woken = 0;
    store.on_new_distribution_point([&woken] { ++woken; });
    EXPECT_EQ(store.offer(crl(issuing->crl_pem())), RevocationStore::Offer::installed);
    EXPECT_EQ(woken, 1);
    EXPECT_EQ(store.distribution_points(),
              std::vector<DistributionPoint>{{"http://pki.corp.example/issuing+.crl"}});
    EXPECT_EQ(store.offer(crl(issuing->crl_pem())), RevocationStore::Offer::installed);  // a newer number
    EXPECT_EQ(store.offer(crl(root.crl_pem())), RevocationStore::Offer::installed);      // names no delta
    EXPECT_EQ(woken, 1);
}

// A CA's web server may take a new delta before the new base (robocopy from CertEnroll copies
// "<CA>+.crl" first): that delta waits for its base, and the one held stays in use with the base held.
TEST_F(RevocationStoreTest, ADeltaForABaseNotYetHeldWaitsForIt) {
    auto store = make_store();
    EXPECT_EQ(store.offer(crl(issuing->crl_pem())), RevocationStore::Offer::installed);
    EXPECT_EQ(store.offer(crl(issuing->delta_crl_pem())), RevocationStore::Offer::installed);
    const auto next_base = issuing->crl_pem();
    const auto next_delta = issuing->delta_crl_pem();
    EXPECT_EQ(store.offer(crl(next_delta)), RevocationStore::Offer::for_unheld_base);
    EXPECT_EQ(store.offer(crl(next_base)), RevocationStore::Offer::installed);
    EXPECT_EQ(store.offer(crl(next_delta)), RevocationStore::Offer::installed);
}

TEST_F(RevocationStoreTest, AnExpiredCrlIsUsableOnlyWithinTheGrace) {
    auto store = make_store();
    const auto half_hour_ago = crl(issuing->crl_pem(-std::chrono::minutes(30)));
    const auto two_hours_ago = crl(issuing->crl_pem(-std::chrono::hours(2) - std::chrono::minutes(1)));
    EXPECT_TRUE(store.within_grace(half_hour_ago.get()));
    EXPECT_FALSE(store.within_grace(two_hours_ago.get()));
    EXPECT_TRUE(store.expired_crls().empty());
}

}  // namespace
}  // namespace easgate::identity
