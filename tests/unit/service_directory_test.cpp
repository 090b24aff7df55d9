// What `easgate doctor` says about a directory easgate must write (crl_refresh.cache_dir): judged
// for the service account rather than the doctor's user, and within the package's systemd sandbox.
#include "doctor/service_directory.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

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
        sandbox_writable(EASGATE_SOURCE_DIR "/config/systemd/easgate.service", dir / "none.d");
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
    EXPECT_EQ(*sandbox_writable(unit, dropins),
              (std::vector<fs::path>{"/var/log/easgate", "/var/cache/easgate", "/srv/crls"}));

    write_file(dropins / "40-loose.conf", "[Service]\nProtectSystem = full\n");
    EXPECT_FALSE(sandbox_writable(unit, dropins).has_value()) << "only strict makes /var read-only";
    EXPECT_FALSE(sandbox_writable(dir / "absent.service", dropins).has_value()) << "no unit, no sandbox";
}

}  // namespace
}  // namespace easgate::doctor
