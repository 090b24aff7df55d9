#include "easgate/pipeline/delegation_stage.hpp"

#include <gtest/gtest.h>

#include <memory>

namespace easgate::pipeline {
namespace {

// The delegation stage asks the KDC for sAMAccountName@realm; that name is only unique within its
// domain. An account of another domain (a Global Catalog finds them) is refused before any ticket
// is asked for, never taken for its namesake in easgate's realm.
TEST(DelegationStageTest, AnAccountOfAnotherDomainIsNotTakenForItsNamesakeInOurs) {
    DelegationStage stage(nullptr, "EXAMPLE.TEST", "HTTP/mail.example.test", 48 * 1024);
    identity::CertificateIdentity identity;
    common::RequestHeader header;
    RequestContext request{&identity, header, nullptr, {}, {}, {}, {}};
    directory::DirectoryUser user;
    user.upn = "jsmith@child.example.test";
    user.sam_account_name = "jsmith";
    user.distinguished_name = "CN=John Smith,CN=Users,DC=child,DC=example,DC=test";
    request.user = std::make_shared<const directory::DirectoryUser>(user);

    const auto verdict = stage.decide_now(request);
    ASSERT_TRUE(verdict.has_value()) << "decided without asking the KDC";
    ASSERT_FALSE(*verdict);
    EXPECT_EQ(verdict->error().status, 403u);
    EXPECT_NE(verdict->error().reason.find(
                  "is in the domain child.example.test, not in easgate's realm EXAMPLE.TEST"),
              std::string::npos)
        << verdict->error().reason;
    EXPECT_EQ(request.credentials, nullptr);
}

}  // namespace
}  // namespace easgate::pipeline
