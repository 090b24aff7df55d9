// The causes /metrics counts device certificate refusals by, and the counters that hold them.
#include "easgate/listener/certificate_refusal.hpp"

#include <gtest/gtest.h>
#include <openssl/x509_vfy.h>

#include <algorithm>

#include "easgate/common/cause_counters.hpp"

namespace easgate::listener {
namespace {

TEST(CertificateRefusal, EachVerificationErrorHasTheCauseAnOperatorActsOn) {
    EXPECT_EQ(certificate_refusal_cause(X509_V_ERR_CERT_REVOKED), "revoked");
    for (const int crl : {X509_V_ERR_UNABLE_TO_GET_CRL, X509_V_ERR_CRL_HAS_EXPIRED,
                          X509_V_ERR_CRL_NOT_YET_VALID, X509_V_ERR_CRL_SIGNATURE_FAILURE})
        EXPECT_EQ(certificate_refusal_cause(crl), "crl_unavailable") << crl;
    EXPECT_EQ(certificate_refusal_cause(X509_V_ERR_CERT_HAS_EXPIRED), "expired");
    EXPECT_EQ(certificate_refusal_cause(X509_V_ERR_CERT_NOT_YET_VALID), "expired");
    EXPECT_EQ(certificate_refusal_cause(X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY), "unknown_ca");
    EXPECT_EQ(certificate_refusal_cause(X509_V_ERR_CERT_UNTRUSTED), "unlisted_issuer");
    EXPECT_EQ(certificate_refusal_cause(X509_V_ERR_INVALID_PURPOSE), "no_client_auth_eku");
    EXPECT_EQ(certificate_refusal_cause(X509_V_ERR_APPLICATION_VERIFICATION), "no_identity");
    EXPECT_EQ(certificate_refusal_cause(X509_V_ERR_CERT_SIGNATURE_FAILURE), "other");
    EXPECT_EQ(certificate_refusal_cause(0), "other");
}

TEST(CertificateRefusal, EveryCauseIsOneMetricsShows) {
    for (const int error :
         {X509_V_ERR_CERT_REVOKED, X509_V_ERR_UNABLE_TO_GET_CRL, X509_V_ERR_CERT_HAS_EXPIRED,
          X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT, X509_V_ERR_CERT_UNTRUSTED, X509_V_ERR_INVALID_PURPOSE,
          X509_V_ERR_APPLICATION_VERIFICATION, -1}) {
        const auto cause = certificate_refusal_cause(error);
        EXPECT_NE(std::find(certificate_refusal_causes.begin(), certificate_refusal_causes.end(), cause),
                  certificate_refusal_causes.end())
            << cause;
    }
}

TEST(CauseCounters, CountsEachCauseOfTheSetAndNothingElse) {
    common::CauseCounters<certificate_refusal_causes.size()> counters{certificate_refusal_causes};
    counters.count("revoked");
    counters.count("revoked");
    counters.count("expired");
    counters.count("a word from nowhere");
    EXPECT_EQ(counters.value("revoked"), 2u);
    EXPECT_EQ(counters.value("expired"), 1u);
    EXPECT_EQ(counters.value("other"), 0u);
    EXPECT_EQ(counters.value("a word from nowhere"), 0u);
}

}  // namespace
}  // namespace easgate::listener
