// ListedIssuers: which CA signed a verified chain's leaf, and whether trusted_ca_file lists it.
#include "easgate/identity/listed_issuers.hpp"

#include <gtest/gtest.h>

#include "test_pki.hpp"

namespace easgate::testing {
namespace {

using identity::X509Ptr;

void free_chain(STACK_OF(X509) * chain) { sk_X509_pop_free(chain, X509_free); }
using ChainPtr = common::OpenSslPtr<STACK_OF(X509), free_chain>;

// A chain as verification leaves it: the leaf first, then each issuer.
ChainPtr chain_of(const std::vector<std::string>& pems) {
    ChainPtr chain(sk_X509_new_null());
    for (const auto& pem : pems) sk_X509_push(chain.get(), parse_certificate_pem(pem).release());
    return chain;
}

class ListedIssuersTest : public ::testing::Test {
protected:
    identity::ListedIssuers listing(const std::vector<std::string>& pems) const {
        std::vector<X509Ptr> cas;
        for (const auto& pem : pems) cas.push_back(parse_certificate_pem(pem));
        return identity::ListedIssuers(cas);
    }

    static CertSpec alice() {
        CertSpec spec;
        spec.upn = "alice@example.test";
        return spec;
    }

    TestCa root = TestCa::create_root("Listed Root CA");
    TestCa issuing = root.create_intermediate("Listed Issuing CA");
    TestCa wifi = root.create_intermediate("Listed Wi-Fi CA");
};

TEST_F(ListedIssuersTest, ADeviceOfAListedIssuingCaPasses) {
    const auto issuers = listing({issuing.cert_pem(), root.cert_pem()});
    const auto chain = chain_of({issuing.issue(alice()).cert_pem, issuing.cert_pem(), root.cert_pem()});
    EXPECT_EQ(issuers.unlisted_issuer(chain.get()), nullptr);
}

TEST_F(ListedIssuersTest, AnotherCaUnderTheListedRootIsNamed) {
    const auto issuers = listing({issuing.cert_pem(), root.cert_pem()});
    const auto chain = chain_of({wifi.issue(alice()).cert_pem, wifi.cert_pem(), root.cert_pem()});
    X509* unlisted = issuers.unlisted_issuer(chain.get());
    ASSERT_NE(unlisted, nullptr);
    EXPECT_EQ(X509_cmp(unlisted, sk_X509_value(chain.get(), 1)), 0);
    EXPECT_NE(issuers.refusal(unlisted).find("issued by \"CN=Listed Wi-Fi CA\", a CA not listed"),
              std::string::npos);
}

// The root is listed, yet its issuing CA is not: the root vouches for what it issued itself only.
TEST_F(ListedIssuersTest, TheRootAloneDoesNotListItsIssuingCas) {
    const auto issuers = listing({root.cert_pem()});
    const auto chain = chain_of({issuing.issue(alice()).cert_pem, issuing.cert_pem(), root.cert_pem()});
    EXPECT_NE(issuers.unlisted_issuer(chain.get()), nullptr);
    const auto from_root = chain_of({root.issue(alice()).cert_pem, root.cert_pem()});
    EXPECT_EQ(issuers.unlisted_issuer(from_root.get()), nullptr);
}

// A CA renewed with a new key has the old name: it is another CA until its new certificate is listed.
TEST_F(ListedIssuersTest, ACaOfTheListedNameWithAnotherKeyIsNotListed) {
    const TestCa renewed = root.create_intermediate("Listed Issuing CA");
    const auto chain = chain_of({renewed.issue(alice()).cert_pem, renewed.cert_pem(), root.cert_pem()});
    const auto old_only = listing({issuing.cert_pem(), root.cert_pem()});
    X509* unlisted = old_only.unlisted_issuer(chain.get());
    ASSERT_NE(unlisted, nullptr);
    const auto refusal = old_only.refusal(unlisted);
    EXPECT_NE(refusal.find("issued by \"CN=Listed Issuing CA\" with a key that is not listed"),
              std::string::npos)
        << refusal;
    EXPECT_NE(refusal.find("a CA renewed with a new key? add its new certificate"), std::string::npos)
        << refusal;
    EXPECT_EQ(listing({issuing.cert_pem(), renewed.cert_pem()}).unlisted_issuer(chain.get()), nullptr);
}

// Renewed with the same key (AD CS's default), the CA's new certificate is still the listed CA.
TEST_F(ListedIssuersTest, ACaRenewedWithTheSameKeyIsStillListed) {
    const auto chain = chain_of({issuing.issue(alice()).cert_pem, issuing.cert_pem(), root.cert_pem()});
    X509* reissued = sk_X509_value(chain.get(), 1);
    ASN1_INTEGER_set(X509_get_serialNumber(reissued), 4242);  // another certificate: name and key kept
    const auto listed = parse_certificate_pem(issuing.cert_pem());
    ASSERT_NE(ASN1_INTEGER_cmp(X509_get0_serialNumber(reissued), X509_get0_serialNumber(listed.get())), 0);
    EXPECT_EQ(listing({issuing.cert_pem()}).unlisted_issuer(chain.get()), nullptr);
}

// What chain building left when it found no listed CA is not this check's to explain.
TEST_F(ListedIssuersTest, AChainThatReachesNoListedCaNamesNoIssuer) {
    const auto issuers = listing({issuing.cert_pem(), root.cert_pem()});
    const ChainPtr empty(sk_X509_new_null());
    EXPECT_EQ(issuers.unlisted_issuer(empty.get()), nullptr);
    const auto leaf_alone = chain_of({wifi.issue(alice()).cert_pem});
    EXPECT_EQ(issuers.unlisted_issuer(leaf_alone.get()), nullptr);
    const auto rogue = TestCa::create_root("Listed Rogue CA");
    const TestCa rogue_issuing = rogue.create_intermediate("Listed Rogue Issuing CA");
    const auto unanchored = chain_of({rogue_issuing.issue(alice()).cert_pem, rogue_issuing.cert_pem()});
    EXPECT_EQ(issuers.unlisted_issuer(unanchored.get()), nullptr);
}

}  // namespace
}  // namespace easgate::testing
