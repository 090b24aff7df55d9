// What `easgate doctor` says about a directory easgate must write (crl_refresh.cache_dir): judged
// for the service account rather than the doctor's user, and within the package's systemd sandbox.
#include "doctor/service_directory.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>

#include "child_process.hpp"
#include "test_pki.hpp"

namespace easgate::doctor {
namespace {

namespace fs = std::filesystem;
using testing::make_temp_dir;
using testing::write_file;

class ServiceDirectoryTest : public ::testing::Test {
protected:
    ~ServiceDirectoryTest() override { fs::remove_all(dir); }
    fs::path dir = make_temp_dir("service-directory");
};

// nobody (65534) stands for the service account: the test runs as root, who may write anywhere.
TEST_F(ServiceDirectoryTest, WritableIsJudgedByTheBitsThatApplyToTheServiceAccount) {
    if (geteuid() != 0) GTEST_SKIP() << "needs root to give the directory away";
    const ServiceAccount service{.uid = 65534, .groups = {65534}};
    const auto state = dir / "state";
    fs::create_directory(state);
    ASSERT_EQ(::chown(state.c_str(), 0, 0), 0);
    ASSERT_EQ(::chmod(state.c_str(), 0755), 0);
    EXPECT_EQ(why_unwritable(state, service), state.string() + " is root:root 0755");
    EXPECT_EQ(why_unwritable(state, std::nullopt), "") << "root itself may";

    ASSERT_EQ(::chown(state.c_str(), 65534, 0), 0);
    ASSERT_EQ(::chmod(state.c_str(), 0700), 0);
    EXPECT_EQ(why_unwritable(state, service), "") << "its owner";
    ASSERT_EQ(::chmod(state.c_str(), 0500), 0);
    EXPECT_NE(why_unwritable(state, service), "") << "its owner, without the write bit";

    ASSERT_EQ(::chown(state.c_str(), 0, 65534), 0);
    ASSERT_EQ(::chmod(state.c_str(), 0770), 0);
    EXPECT_EQ(why_unwritable(state, service), "") << "its group";
    ASSERT_EQ(::chmod(state.c_str(), 0707), 0);
    EXPECT_NE(why_unwritable(state, service), "") << "the group's bits, not everyone's, apply to a member";

    write_file(dir / "a-file", "");
    EXPECT_EQ(why_unwritable(dir / "a-file", service), (dir / "a-file").string() + " is not a directory");
    EXPECT_NE(why_unwritable(dir / "missing", std::nullopt).find("No such file or directory"),
              std::string::npos);
}

// The keytab as root may read it, and the service account may not: the doctor, run as root, must
// not pass a keytab the service can't open.
TEST_F(ServiceDirectoryTest, ReadableIsJudgedForTheServiceAccountItsDirectoriesIncluded) {
    if (geteuid() != 0) GTEST_SKIP() << "needs root to give the files away";
    const ServiceAccount service{.uid = 65534, .groups = {65534}};
    ASSERT_EQ(::chmod(dir.c_str(), 0755), 0);
    const auto etc = dir / "etc";
    const auto keytab = etc / "easgate.keytab";
    fs::create_directory(etc);
    write_file(keytab, "key");
    ASSERT_EQ(::chown(etc.c_str(), 0, 65534), 0);
    ASSERT_EQ(::chmod(etc.c_str(), 0750), 0);
    ASSERT_EQ(::chown(keytab.c_str(), 0, 0), 0);
    ASSERT_EQ(::chmod(keytab.c_str(), 0600), 0);
    EXPECT_EQ(why_unreadable(keytab, service), keytab.string() + " is root:root 0600");
    EXPECT_EQ(why_unreadable(keytab, std::nullopt), "") << "root itself may";

    ASSERT_EQ(::chown(keytab.c_str(), 0, 65534), 0);
    ASSERT_EQ(::chmod(keytab.c_str(), 0640), 0);
    EXPECT_EQ(why_unreadable(keytab, service), "") << "its group";

    ASSERT_EQ(::chown(etc.c_str(), 0, 0), 0);
    EXPECT_EQ(why_unreadable(keytab, service), etc.string() + " is root:root 0750")
        << "a directory on the way";
    EXPECT_NE(why_unreadable(dir / "missing", service).find("No such file or directory"), std::string::npos);

    // Through a symbolic link (certbot's live/ into archive/): the directories it leads to count.
    ASSERT_EQ(::chown(etc.c_str(), 0, 65534), 0);
    const auto live = dir / "live";
    fs::create_directory(live);
    fs::create_symlink(keytab, live / "easgate.keytab");
    EXPECT_EQ(why_unreadable(live / "easgate.keytab", service), "");
    ASSERT_EQ(::chown(etc.c_str(), 0, 0), 0);
    EXPECT_EQ(why_unreadable(live / "easgate.keytab", service), etc.string() + " is root:root 0750");
}

TEST_F(ServiceDirectoryTest, TheShippedUnitLeavesWritableOnlyEasgatesStateLogsAndRuntimeDirectory) {
    const auto writable =
        ServiceUnit::read(EASGATE_SOURCE_DIR "/config/systemd/easgate.service", {dir / "none.d"}).writable();
    ASSERT_TRUE(writable.has_value()) << "the shipped unit sets ProtectSystem=strict";
    EXPECT_EQ(*writable, (std::vector<fs::path>{"/var/log/easgate", "/run/easgate", "/var/lib/easgate"}));
}

TEST_F(ServiceDirectoryTest, DropInsAddPathsResetListsAndCanLiftTheSandbox) {
    const auto unit = dir / "easgate.service";
    const auto dropins = dir / "easgate.service.d";
    write_file(unit, "[Service]\nProtectSystem=strict\nStateDirectory=easgate\nLogsDirectory=easgate\n");
    fs::create_directory(dropins);
    write_file(dropins / "20-cache.conf", "[Service]\nReadWritePaths=-/var/cache/easgate /srv/crls\n");
    write_file(dropins / "10-state.conf", "[Service]\n# StateDirectory=ignored\nStateDirectory=\n");
    write_file(dropins / "30-notes.txt", "ProtectSystem=false\n");  // not a drop-in
    EXPECT_EQ(*ServiceUnit::read(unit, {dropins}).writable(),
              (std::vector<fs::path>{"/var/log/easgate", "/var/cache/easgate", "/srv/crls"}));

    write_file(dropins / "40-loose.conf", "[Service]\nProtectSystem = full\n");
    EXPECT_FALSE(ServiceUnit::read(unit, {dropins}).writable().has_value())
        << "only strict makes /var read-only";
    EXPECT_FALSE(ServiceUnit::read(dir / "absent.service", {dropins}).writable().has_value())
        << "no unit, no sandbox";
}

// systemd's syntax beyond one word per key: a value in quotes (a path with a space), a line going
// on after a backslash; DynamicUser=yes brings ProtectSystem=strict and PrivateTmp=yes with it.
TEST_F(ServiceDirectoryTest, QuotedWordsContinuedLinesAndDynamicUserAreReadAsSystemdReadsThem) {
    const auto unit = dir / "easgate.service";
    write_file(unit,
               "[Service]\nProtectSystem=strict\nReadWritePaths=\"/srv/easgate crls\" \\\n"
               "    '/var/lib/easgate state' /run/easgate\n# a comment \\\nUser=nobody\n");
    EXPECT_EQ(*ServiceUnit::read(unit, {dir / "none.d"}).writable(),
              (std::vector<fs::path>{"/srv/easgate crls", "/var/lib/easgate state", "/run/easgate"}));

    write_file(unit, "[Service]\nDynamicUser=yes\nStateDirectory=easgate\n");
    const auto dynamic = ServiceUnit::read(unit, {dir / "none.d"});
    EXPECT_EQ(*dynamic.writable(), std::vector<fs::path>{"/var/lib/easgate"});
    EXPECT_NE(dynamic.hides("/tmp/server.key").find("which DynamicUser=yes implies"), std::string::npos)
        << dynamic.hides("/tmp/server.key");
}

// The shipped unit hides /home and /root (ProtectHome=yes) and gives the service a /tmp of its own
// (PrivateTmp=yes): a keytab an admin left there passes every permission check and is still out of
// the service's sight. ProtectHome=read-only lets it read; InaccessiblePaths= hides what it names.
TEST_F(ServiceDirectoryTest, TheSandboxHidesHomeTmpAndInaccessiblePaths) {
    const auto shipped =
        ServiceUnit::read(EASGATE_SOURCE_DIR "/config/systemd/easgate.service", {dir / "none.d"});
    EXPECT_NE(shipped.hides("/home/admin/easgate.keytab").find("is under /home, which "), std::string::npos);
    EXPECT_NE(shipped.hides("/root/easgate.keytab").find("(ProtectHome=yes)"), std::string::npos);
    EXPECT_NE(shipped.hides("/tmp/certs/server.key").find("is under /tmp"), std::string::npos);
    EXPECT_NE(shipped.hides("/var/tmp/server.key").find("(PrivateTmp=yes)"), std::string::npos);
    EXPECT_EQ(shipped.hides("/etc/easgate/easgate.keytab"), "");
    EXPECT_EQ(shipped.hides("/homeless/easgate.keytab"), "") << "a path is under /home by its components";

    const auto problem = service_cannot_read("/root/easgate.keytab", shipped);
    EXPECT_NE(problem.why.find("(ProtectHome=yes)"), std::string::npos) << problem.why;
    EXPECT_NE(problem.remedy.find("/etc/easgate"), std::string::npos) << problem.remedy;

    const auto unit = dir / "easgate.service";
    const auto dropins = dir / "easgate.service.d";
    fs::create_directory(dropins);
    write_file(unit, "[Service]\nProtectHome=Yes\nPrivateTmp=y\n");
    EXPECT_NE(ServiceUnit::read(unit, {}).hides("/tmp/server.key").find("(PrivateTmp=y)"), std::string::npos)
        << "systemd's booleans in any case and short";
    EXPECT_NE(ServiceUnit::read(unit, {}).hides("/root/k").find("(ProtectHome=Yes)"), std::string::npos);
    write_file(dropins / "10-lax.conf",
               "[Service]\nProtectHome=read-only\nPrivateTmp=no\nInaccessiblePaths=-/srv/secret\n");
    const auto lax = ServiceUnit::read(unit, {dropins});
    EXPECT_EQ(lax.hides("/home/admin/easgate.keytab"), "");
    EXPECT_EQ(lax.hides("/tmp/server.key"), "");
    EXPECT_NE(lax.hides("/srv/secret/easgate.keytab").find("(InaccessiblePaths=)"), std::string::npos);

    // Past a symbolic link, where it leads counts.
    write_file(unit, "[Service]\nInaccessiblePaths=" + (dir / "hidden").string() + "\n");
    fs::create_directory(dir / "hidden");
    write_file(dir / "hidden" / "key.pem", "key");
    fs::create_symlink(dir / "hidden" / "key.pem", dir / "key.pem");
    EXPECT_NE(
        ServiceUnit::read(unit, {dir / "none.d"}).hides(dir / "key.pem").find("hidden/key.pem is under"),
        std::string::npos);
}

// The account is the unit's User= with its Group= and SupplementaryGroups= (a drop-in giving the
// service ssl-cert, say, to read /etc/ssl/private), not only what /etc/group says.
TEST_F(ServiceDirectoryTest, TheServiceAccountIsTheUnitsUserWithItsGroups) {
    const auto unit = dir / "easgate.service";
    write_file(unit, "[Service]\nUser=nobody\nGroup=4343\nSupplementaryGroups=root 4242\n");
    const auto account = ServiceUnit::read(unit, {dir / "none.d"}).account();
    ASSERT_TRUE(account.has_value());
    EXPECT_EQ(account->uid, 65534u);
    for (const gid_t group : {4343u, 0u, 4242u})
        EXPECT_NE(std::ranges::find(account->groups, group), account->groups.end()) << group;

    write_file(unit, "[Service]\nUser=no-such-user-here\n");
    EXPECT_FALSE(ServiceUnit::read(unit, {dir / "none.d"}).account().has_value());

    // A drop-in of /etc replaces the package's of the same name; an empty User= runs it as root,
    // whom the doctor does not judge by the bits.
    const auto lib = dir / "lib.d", etc = dir / "etc.d";
    fs::create_directories(lib);
    fs::create_directories(etc);
    write_file(unit, "[Service]\nUser=nobody\n");
    write_file(lib / "50-user.conf", "[Service]\n  User=root\n");
    write_file(etc / "50-user.conf", "[Service]\nUser=\n");
    EXPECT_FALSE(ServiceUnit::read(unit, {lib, etc}).account().has_value());
    EXPECT_EQ(ServiceUnit::read(unit, {etc, lib}).account()->uid, 0u) << "the later directory wins";
}

}  // namespace
}  // namespace easgate::doctor
