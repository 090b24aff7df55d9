// Lists handed out in ranges, read on from the lab's Samba AD DC. Samba hands a whole list out
// unasked where AD stops at 1500 values, but answers ranged requests as AD does
// ("memberOf;range=2-*" → "memberOf;range=2-*: ..."): the first answer is cut here as AD would cut
// it, and every further range is asked of the DC.
#include <gtest/gtest.h>

#include <algorithm>

#include "directory/directory_servers.hpp"
#include "easgate/directory/account_checks.hpp"
#include "lab_environment.hpp"

namespace easgate::directory {
namespace {

using easgate::testing::LabEnvironment;

class DirectoryRangesTest : public ::testing::Test {
protected:
    DirectoryRangesTest() {
        bind_.method = config::DirectoryBind::simple;
        bind_.dn = administrator_;
        bind_.password = lab_.at("LAB_ADMIN_PASSWORD");
    }

    const LabEnvironment& lab_ = LabEnvironment::get();
    const std::string administrator_ = "CN=Administrator,CN=Users," + lab_.at("LAB_BASE_DN");
    // Complete before servers_ is made from it: DirectoryServers sizes its state by the URIs.
    config::DirectoryConfig config_ = [this] {
        config::DirectoryConfig directory;
        directory.uris = {lab_.at("LAB_LDAPS_URL")};
        directory.base_dn = lab_.at("LAB_BASE_DN");
        directory.ca_file = lab_.at("LAB_LDAPS_CA_FILE");
        directory.timeout = std::chrono::seconds(3);
        return directory;
    }();
    LdapBind bind_;
    DirectoryCounters counters_;
    DirectoryServers servers_{config_, bind_, counters_};
};

TEST_F(DirectoryRangesTest, TheRestOfACutListIsAskedOfTheDcRangeByRange) {
    auto connection = servers_.checkout();
    std::vector<std::string> avoided;
    const auto search = servers_.search_any(*connection, "(distinguishedName=" + administrator_ + ")",
                                            {"memberOf"}, 2, "Administrator", avoided);
    ASSERT_TRUE(search) << search.error();
    ASSERT_EQ(search->entries.size(), 1u);
    auto whole = ranged_values(search->entries.front(), "memberOf");
    ASSERT_FALSE(whole.next);
    ASSERT_GE(whole.values.size(), 4u) << "Administrator is in Domain Admins, Schema Admins and more";

    // Cut as AD cuts: the first two values under memberOf;range=0-1.
    const LdapEntry cut{{"memberOf;range=0-1", {whole.values[0], whole.values[1]}}};
    auto user = std::make_shared<DirectoryUser>();
    user->distinguished_name = administrator_;
    user->member_of = ranged_values(cut, "memberOf").values;
    std::vector<std::string> asked;
    const auto all =
        with_all_values(user, cut, [&](const std::string& attribute) -> common::Result<LdapEntry> {
            asked.push_back(attribute);
            auto found = servers_.read_entry(*connection, administrator_, attribute);
            if (!found.status.ok() || found.entries.empty())
                return common::Failure::unavailable(found.status.message);
            return std::move(found.entries.front());
        });
    servers_.checkin(std::move(connection));
    ASSERT_TRUE(all) << all.error();
    auto read = (*all)->member_of;
    std::ranges::sort(read);
    std::ranges::sort(whole.values);
    EXPECT_EQ(read, whole.values);
    EXPECT_EQ(asked, std::vector<std::string>{"memberOf;range=2-*"});
    EXPECT_EQ(counters_.searches, 2u);  // the user's search and the one range read
}

}  // namespace
}  // namespace easgate::directory
