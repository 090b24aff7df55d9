#include <gtest/gtest.h>

#include <cerrno>

#include "easgate/delegation/kerberos_errors.hpp"
#include "easgate/kerberos/kdc_order.hpp"

namespace easgate::delegation {
namespace {

const DelegationAttempt attempt{.service_principal = "EASGATE$@EXAMPLE.TEST",
                                .user_principal = "alice@EXAMPLE.TEST",
                                .target_spn = "HTTP/mail.example.test",
                                .realm = "EXAMPLE.TEST",
                                .krb5_conf = "/etc/krb5.conf",
                                .kdcs = "dc1.example.test:88",
                                .evidence_forwardable = std::nullopt,
                                .delegated_before = false};

common::Failure explain(KerberosStep step, krb5_error_code code) {
    return explain_kerberos_failure(step, attempt, code, "krb5 says so");
}

TEST(DelegationErrors, BadOptionAtS4U2ProxyExplainsDelegationRightsAndSensitiveUsers) {
    const auto result = explain(KerberosStep::s4u2proxy, KRB5KDC_ERR_BADOPTION);
    EXPECT_EQ(result.status, 503u);
    EXPECT_EQ(result.cause, "delegation_not_allowed");
    EXPECT_NE(result.reason.find("delegation from EASGATE$@EXAMPLE.TEST to HTTP/mail.example.test"),
              std::string::npos);
    EXPECT_NE(result.reason.find("(KDC_ERR_BADOPTION: krb5 says so)"), std::string::npos);
    EXPECT_NE(result.reason.find("msDS-AllowedToDelegateTo of EASGATE$"), std::string::npos);
    EXPECT_NE(result.reason.find("protocol transition"), std::string::npos);
    EXPECT_NE(result.reason.find("sensitive and cannot be delegated"), std::string::npos);
    EXPECT_NE(result.reason.find("samba-tool delegation add-service EASGATE$ HTTP/mail.example.test"),
              std::string::npos);
}

// The S4U2Self ticket's forwardable flag tells the causes of KDC_ERR_BADOPTION apart.
TEST(DelegationErrors, BadOptionIsNarrowedByTheForwardableFlagOfTheS4U2SelfTicket) {
    DelegationAttempt narrowed = attempt;
    narrowed.evidence_forwardable = true;
    const auto not_listed =
        explain_kerberos_failure(KerberosStep::s4u2proxy, narrowed, KRB5KDC_ERR_BADOPTION, "");
    EXPECT_EQ(not_listed.cause, "delegation_not_allowed");
    EXPECT_NE(
        not_listed.reason.find("HTTP/mail.example.test is not among the services EASGATE$ may delegate to"),
        std::string::npos)
        << not_listed.reason;
    EXPECT_NE(not_listed.reason.find("samba-tool delegation add-service EASGATE$ HTTP/mail.example.test"),
              std::string::npos);
    for (const char* other : {"TrustedToAuthForDelegation", "sensitive", "Protected Users"})
        EXPECT_EQ(not_listed.reason.find(other), std::string::npos) << other;

    narrowed.evidence_forwardable = false;
    const auto not_forwardable =
        explain_kerberos_failure(KerberosStep::s4u2proxy, narrowed, KRB5KDC_ERR_BADOPTION, "");
    EXPECT_NE(not_forwardable.reason.find("the KDC made the S4U2Self ticket not forwardable, so 'Use any "
                                          "authentication protocol'"),
              std::string::npos)
        << not_forwardable.reason;
    EXPECT_NE(not_forwardable.reason.find("-TrustedToAuthForDelegation $true"), std::string::npos);
    EXPECT_NE(not_forwardable.reason.find("Protected Users"), std::string::npos);

    // With others delegated since the start, the account is set up: the user is the cause.
    narrowed.delegated_before = true;
    const auto user = explain_kerberos_failure(KerberosStep::s4u2proxy, narrowed, KRB5KDC_ERR_BADOPTION, "");
    EXPECT_NE(
        user.reason.find("not forwardable for this user while it delegates others, so alice@EXAMPLE.TEST is "
                         "marked 'Account is sensitive and cannot be delegated' or is in Protected Users"),
        std::string::npos)
        << user.reason;
    EXPECT_EQ(user.reason.find("TrustedToAuthForDelegation"), std::string::npos) << user.reason;
}

TEST(DelegationErrors, UnknownSpnSaysItIsNotRegistered) {
    const auto result = explain(KerberosStep::s4u2proxy, KRB5KDC_ERR_S_PRINCIPAL_UNKNOWN);
    EXPECT_EQ(result.status, 503u);
    EXPECT_EQ(result.cause, "spn_missing");
    EXPECT_NE(result.reason.find("SPN HTTP/mail.example.test is not registered"), std::string::npos);
    EXPECT_NE(result.reason.find("setspn -S HTTP/mail.example.test"), std::string::npos);
}

TEST(DelegationErrors, DuplicateSpnPointsToSetspnX) {
    const auto result = explain(KerberosStep::s4u2proxy, KRB5KDC_ERR_PRINCIPAL_NOT_UNIQUE);
    EXPECT_EQ(result.status, 503u);
    EXPECT_EQ(result.cause, "spn_duplicated");
    EXPECT_NE(result.reason.find("more than one account"), std::string::npos);
    EXPECT_NE(result.reason.find("setspn -X"), std::string::npos);
}

TEST(DelegationErrors, RefusedUsersAtS4U2SelfAreTheUsersProblem) {
    for (const krb5_error_code code : {KRB5KDC_ERR_C_PRINCIPAL_UNKNOWN, KRB5KDC_ERR_CLIENT_REVOKED,
                                       KRB5KDC_ERR_POLICY, KRB5KDC_ERR_KEY_EXP}) {
        const auto result = explain(KerberosStep::s4u2self, code);
        EXPECT_EQ(result.status, 403u) << code;
        EXPECT_EQ(result.cause, "kdc_refused_user");
        EXPECT_NE(result.reason.find("refuses to issue a ticket for alice@EXAMPLE.TEST"), std::string::npos);
        EXPECT_NE(result.reason.find("disabled, locked, expired or unknown"), std::string::npos);
    }
}

TEST(DelegationErrors, EasgatesOwnAccountRefusedIsInfrastructure) {
    const auto result = explain(KerberosStep::service_login, KRB5KDC_ERR_CLIENT_REVOKED);
    EXPECT_EQ(result.status, 503u);
    EXPECT_EQ(result.cause, "service_account_refused");
    EXPECT_NE(result.reason.find("easgate's own account EASGATE$@EXAMPLE.TEST"), std::string::npos);
}

TEST(DelegationErrors, ClockSkewSaysFixNtp) {
    for (const krb5_error_code code : {KRB5KRB_AP_ERR_SKEW, KRB5_KDCREP_SKEW}) {
        const auto result = explain(KerberosStep::s4u2self, code);
        EXPECT_EQ(result.status, 503u);
        EXPECT_EQ(result.cause, "clock_skew");
        EXPECT_NE(result.reason.find("clocks"), std::string::npos);
        EXPECT_NE(result.reason.find("NTP"), std::string::npos);
    }
}

TEST(DelegationErrors, UnreachableKdcNamesRealmAndKrb5Conf) {
    for (const krb5_error_code code : {KRB5_KDC_UNREACH, KRB5_REALM_CANT_RESOLVE}) {
        const auto result = explain(KerberosStep::service_login, code);
        EXPECT_EQ(result.status, 503u);
        EXPECT_EQ(result.cause, "kdc_unreachable");
        EXPECT_NE(result.reason.find("realm EXAMPLE.TEST (dc1.example.test:88)"), std::string::npos);
        EXPECT_NE(result.reason.find("/etc/krb5.conf"), std::string::npos);
    }
}

TEST(DelegationErrors, SilentKdcNamesTheKdcTheTimeoutAndThePort) {
    const auto result = explain_kdc_timeout(attempt, "S4U2Self for alice", std::chrono::seconds(3));
    EXPECT_EQ(result.status, 503u);
    EXPECT_EQ(result.cause, "kdc_timeout");
    EXPECT_TRUE(
        result.reason.starts_with("KDC dc1.example.test:88 of EXAMPLE.TEST did not answer within "
                                  "kerberos.timeout (3s) while S4U2Self for alice: check that the KDCs "
                                  "in /etc/krb5.conf are reachable from easgate on port 88 TCP and UDP"))
        << result.reason;
    // What easgate does about a hung KDC: with its KDC order file, asks it last; without, nothing.
    EXPECT_TRUE(
        result.reason.ends_with("so krb5 asks them in krb5.conf's order: put a KDC that answers first)"))
        << result.reason;
    {
        const kerberos::KdcOrderFile order("/etc/krb5.conf");
        EXPECT_TRUE(explain_kdc_timeout(attempt, "x", std::chrono::seconds(3))
                        .reason.ends_with("while another answers, has krb5 ask a hung one last)"));
    }
    auto two = attempt;
    two.kdcs = "dc1:88, dc2:88";
    EXPECT_NE(explain_kdc_timeout(two, "x", std::chrono::seconds(3)).reason.find("KDCs dc1:88, dc2:88 of"),
              std::string::npos);
}

TEST(DelegationErrors, WrongKeyAtLoginSaysReexportTheKeytab) {
    const auto result = explain(KerberosStep::service_login, KRB5KDC_ERR_PREAUTH_FAILED);
    EXPECT_EQ(result.status, 503u);
    EXPECT_EQ(result.cause, "keytab_stale");
    EXPECT_NE(result.reason.find("doesn't match"), std::string::npos);
    EXPECT_NE(result.reason.find("make the keytab for"), std::string::npos);
    EXPECT_TRUE(is_keytab_or_account_problem(KRB5KDC_ERR_PREAUTH_FAILED));
    EXPECT_FALSE(is_keytab_or_account_problem(KRB5_KDC_UNREACH));
}

TEST(DelegationErrors, NoCommonEnctypeSaysEnableAes) {
    const auto result = explain(KerberosStep::s4u2proxy, KRB5KDC_ERR_ETYPE_NOSUPP);
    EXPECT_NE(result.reason.find("AES"), std::string::npos);
}

TEST(DelegationErrors, UnknownCodesKeepKrb5sWordsAndTheStep) {
    const auto result = explain(KerberosStep::s4u2proxy, KRB5KDC_ERR_BADOPTION + 1000);
    EXPECT_EQ(result.status, 503u);
    EXPECT_EQ(result.reason,
              "S4U2Proxy (constrained delegation) for alice@EXAMPLE.TEST to HTTP/mail.example.test failed "
              "(krb5 says so)");
}

TEST(DelegationErrors, KeytabProblemsNameTheSettingAndTheFix) {
    EXPECT_EQ(explain_keytab_problem("/etc/easgate.keytab", "EASGATE$@EXAMPLE.TEST", ENOENT, "No such file"),
              "kerberos.keytab: /etc/easgate.keytab does not exist: export it for EASGATE$@EXAMPLE.TEST and "
              "check the path");
    const auto no_key = explain_keytab_problem("/k", "EASGATE$@EXAMPLE.TEST", KRB5_KT_NOTFOUND, "not found");
    EXPECT_NE(no_key.find("holds no key for EASGATE$@EXAMPLE.TEST"), std::string::npos);
    EXPECT_NE(no_key.find("exportkeytab --principal=EASGATE$"), std::string::npos);
}

}  // namespace
}  // namespace easgate::delegation
