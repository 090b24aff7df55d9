// DirectoryClient against directory servers that answer as a DC in trouble does: busy,
// unavailable, a referral. libldap reads their real LDAP answers; the lab's Samba DC can't be made
// to give them (tests/lab_tests cover stalls, outages and failover at connect against the real DC).
#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <filesystem>

#include "child_process.hpp"
#include "easgate/directory/directory_client.hpp"
#include "fake_directory_server.hpp"
#include "test_pki.hpp"

namespace easgate::directory {
namespace {

using easgate::testing::FakeDirectoryServer;
using Answer = FakeDirectoryServer::Answer;

class DirectoryFailoverTest : public ::testing::Test {
protected:
    ~DirectoryFailoverTest() override { std::filesystem::remove_all(dir_); }

    // A simple bind in clear, which only a test may configure: the fakes speak no TLS.
    config::DirectoryConfig config(std::vector<std::string> uris) const {
        config::DirectoryConfig directory;
        directory.uris = std::move(uris);
        directory.base_dn = "DC=example,DC=test";
        directory.bind = config::DirectoryBind::simple;
        directory.bind_dn = "CN=easgate,CN=Users,DC=example,DC=test";
        directory.password_file = (dir_ / "password").string();
        directory.ldap_tls = config::LdapTls::none;
        directory.timeout = std::chrono::seconds(3);
        directory.max_concurrent = 1;
        return directory;
    }

    static UserLookup find(DirectoryClient& client) {
        boost::asio::io_context io;
        UserLookup found = common::Failure::unavailable("never answered");
        boost::asio::co_spawn(
            io,
            [&]() -> boost::asio::awaitable<void> {
                found = co_await client.find(
                    AccountSearch::by_attribute("userPrincipalName", FakeDirectoryServer::upn));
            },
            boost::asio::detached);
        io.run();
        return found;
    }

    std::filesystem::path dir_ = [] {
        auto dir = easgate::testing::make_temp_dir("directory-failover");
        easgate::testing::write_file(dir / "password", "secret\n");
        return dir;
    }();
};

class ADcInTrouble : public DirectoryFailoverTest, public ::testing::WithParamInterface<Answer> {};

// The DC says it can't serve the search now (LDAP busy 51, unavailable 52, as a DC does while it
// starts, stops or is overloaded): the lookup goes on to the next server, not to the device as 503.
TEST_P(ADcInTrouble, HandsTheSearchToTheNextServer) {
    FakeDirectoryServer troubled(GetParam());
    FakeDirectoryServer healthy(Answer::healthy);
    DirectoryClient client(config({troubled.uri(), healthy.uri()}), nullptr);

    const auto found = find(client);
    ASSERT_TRUE(found) << found.error();
    EXPECT_EQ((*found)->distinguished_name, FakeDirectoryServer::user_dn);
    EXPECT_EQ(troubled.searches(), 1u);
    EXPECT_EQ(healthy.searches(), 2u);  // the user and the Protected Users check
    EXPECT_FALSE(client.not_ready_reason());
    // /metrics shows which server failed, though the user got in.
    ASSERT_EQ(client.counters().uris, (std::vector<std::string>{troubled.uri(), healthy.uri()}));
    EXPECT_EQ(client.counters().server_failures[0], 1u);
    EXPECT_EQ(client.counters().server_failures[1], 0u);
}

// Every server in trouble: unavailable, each named with what it said; /readyz says so too.
TEST_P(ADcInTrouble, OnEveryServerIsUnavailableNamingEach) {
    FakeDirectoryServer first(GetParam());
    FakeDirectoryServer second(GetParam());
    DirectoryClient client(config({first.uri(), second.uri()}), nullptr);

    const auto found = find(client);
    ASSERT_FALSE(found);
    EXPECT_EQ(found.error().status, 503u);
    EXPECT_EQ(found.error().cause, "unavailable");
    const std::string& reason = found.error().reason;
    EXPECT_NE(reason.find("failed on every directory server"), std::string::npos) << reason;
    EXPECT_NE(reason.find(first.uri()), std::string::npos) << reason;
    EXPECT_NE(reason.find(second.uri()), std::string::npos) << reason;
    const std::string said =
        GetParam() == Answer::busy ? "the server is busy" : "the server is shutting down";
    EXPECT_NE(reason.find(said), std::string::npos) << reason;
    EXPECT_EQ(first.searches(), 1u);
    EXPECT_EQ(second.searches(), 1u);
    EXPECT_EQ(client.counters().server_failures[0], 1u);
    EXPECT_EQ(client.counters().server_failures[1], 1u);
    EXPECT_TRUE(client.not_ready_reason());

    // Both rest now, and are still asked: a server that may be back beats a refusal.
    EXPECT_FALSE(find(client));
    EXPECT_EQ(first.searches(), 2u);
    EXPECT_EQ(second.searches(), 2u);
}

// A server that failed rests: connections opened meanwhile go to the others first, so a DC in
// trouble costs its failure (up to directory.timeout when it hangs) once, not once per connection.
TEST_P(ADcInTrouble, RestsWhileAnotherServerServes) {
    FakeDirectoryServer troubled(GetParam());
    FakeDirectoryServer healthy(Answer::healthy_hanging_up);  // every lookup opens a new connection
    auto directory = config({troubled.uri(), healthy.uri()});
    directory.cache_ttl = std::chrono::milliseconds::zero();
    DirectoryClient client(directory, nullptr);

    for (int lookup = 0; lookup < 3; ++lookup) {
        const auto found = find(client);
        ASSERT_TRUE(found) << found.error();
    }
    EXPECT_EQ(troubled.searches(), 1u);
    EXPECT_EQ(healthy.searches(), 6u);
    EXPECT_EQ(client.counters().connections_opened, 4u);  // troubled, then healthy once per lookup
    EXPECT_EQ(client.counters().server_failures[0], 1u);
}

INSTANTIATE_TEST_SUITE_P(BusyOrUnavailable, ADcInTrouble,
                         ::testing::Values(Answer::busy, Answer::unavailable), [](const auto& info) {
                             return info.param == Answer::busy ? "Busy" : "Unavailable";
                         });

// A DC that finds the user but is busy for the reads of its entry (tokenGroups here; memberOf
// ranges and require_group alike) rests, and the lookup is made again on the next server: the user
// gets in instead of 503 for one DC's trouble, and the next lookup skips the resting DC.
TEST_F(DirectoryFailoverTest, ADcFailingTheReadsAfterItsSearchHandsTheLookupToTheNextServer) {
    FakeDirectoryServer troubled(Answer::busy_after_search);
    FakeDirectoryServer healthy(Answer::healthy);
    auto directory = config({troubled.uri(), healthy.uri()});
    directory.cache_ttl = std::chrono::milliseconds::zero();
    DirectoryClient client(directory, nullptr);

    const auto found = find(client);
    ASSERT_TRUE(found) << found.error();
    EXPECT_EQ((*found)->distinguished_name, FakeDirectoryServer::user_dn);
    EXPECT_EQ(troubled.searches(), 2u);  // the user, then tokenGroups
    EXPECT_EQ(healthy.searches(), 2u);
    EXPECT_EQ(client.counters().server_failures[0], 1u);

    ASSERT_TRUE(find(client));
    EXPECT_EQ(troubled.searches(), 2u);
    EXPECT_EQ(healthy.searches(), 4u);
}

// Each server the lookup gave up on stays out of it, resting or not. Here both rest (the other one
// was down a moment ago); resting servers are asked in the order of the URIs, so without that the
// lookup went back to the one that had just failed its reads, and never asked the one that serves.
TEST_F(DirectoryFailoverTest, ALookupNeverGoesBackToTheDcThatFailedItsReads) {
    FakeDirectoryServer troubled(Answer::busy_after_search);
    std::uint16_t port = 0;
    {
        const FakeDirectoryServer stopped(Answer::healthy);
        port = stopped.port();
    }
    auto directory = config({troubled.uri(), "ldap://127.0.0.1:" + std::to_string(port)});
    directory.cache_ttl = std::chrono::milliseconds::zero();
    DirectoryClient client(directory, nullptr);
    const auto while_down = find(client);
    ASSERT_FALSE(while_down);
    EXPECT_TRUE(client.not_ready_reason()) << "every server failed the lookup";

    const FakeDirectoryServer back(Answer::healthy, port);
    const auto found = find(client);
    ASSERT_TRUE(found) << found.error();
    EXPECT_EQ(troubled.searches(), 4u);  // each lookup: the user, then tokenGroups
    EXPECT_EQ(back.searches(), 2u);
}

// Alone, such a DC's answer is unavailable naming the read that failed, not a refusal of the user.
TEST_F(DirectoryFailoverTest, TheOnlyDcFailingTheReadsAfterItsSearchIsUnavailable) {
    FakeDirectoryServer troubled(Answer::busy_after_search);
    DirectoryClient client(config({troubled.uri()}), nullptr);

    const auto found = find(client);
    ASSERT_FALSE(found);
    EXPECT_EQ(found.error().status, 503u);
    const std::string& reason = found.error().reason;
    EXPECT_NE(reason.find("reading tokenGroups of " + std::string(FakeDirectoryServer::user_dn) + " on " +
                          troubled.uri() + " failed: Server is busy (the server is busy)"),
              std::string::npos)
        << reason;
    EXPECT_EQ(troubled.searches(), 2u);
}

// AD refers a search under a base_dn of another domain of the forest: the operator is told what to
// change, and the referral is not followed (nor handed to the next server, which would refer too).
TEST_F(DirectoryFailoverTest, AReferralIsExplainedWithTheRemedy) {
    FakeDirectoryServer referring(Answer::referral);
    FakeDirectoryServer healthy(Answer::healthy);
    DirectoryClient client(config({referring.uri(), healthy.uri()}), nullptr);

    const auto found = find(client);
    ASSERT_FALSE(found);
    EXPECT_EQ(found.error().status, 503u);
    const std::string& reason = found.error().reason;
    EXPECT_NE(reason.find("refers to another, which easgate does not follow"), std::string::npos) << reason;
    EXPECT_NE(reason.find("defaultNamingContext"), std::string::npos) << reason;
    EXPECT_EQ(healthy.searches(), 0u);
}

}  // namespace
}  // namespace easgate::directory
