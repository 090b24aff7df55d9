// Where easgate keeps the file that has krb5 ask a hung KDC last, and what a start removes of
// what gateways killed with SIGKILL left there: only easgate's own directories that nobody holds.
#include "easgate/kerberos/kdc_order.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/file.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>

#include "child_process.hpp"

namespace easgate::kerberos {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

// Sets an environment variable for one test and puts back what it was.
class ScopedVariable {
public:
    ScopedVariable(const char* name, const std::optional<std::string>& value) : name_(name) {
        if (const char* old = std::getenv(name)) saved_ = old;
        if (value)
            setenv(name, value->c_str(), 1);
        else
            unsetenv(name);
    }
    ~ScopedVariable() {
        if (saved_)
            setenv(name_, saved_->c_str(), 1);
        else
            unsetenv(name_);
    }
    ScopedVariable(const ScopedVariable&) = delete;
    ScopedVariable& operator=(const ScopedVariable&) = delete;

private:
    const char* name_;
    std::optional<std::string> saved_;
};

class KdcOrderFileTest : public ::testing::Test {
protected:
    void SetUp() override {
        dir_ = testing::make_temp_dir("kdc-order");
        tmp_ = dir_ / "tmp";
        fs::create_directories(tmp_);
    }
    void TearDown() override { fs::remove_all(dir_); }

    // A directory as a gateway leaves it, last written two minutes ago.
    fs::path left_behind(const std::string& name) const {
        const auto path = tmp_ / name;
        fs::create_directories(path);
        std::ofstream(path / "kdc-order.conf") << "# easgate\n";
        age(path);
        return path;
    }
    static void age(const fs::path& path) {
        fs::last_write_time(path, fs::file_time_type::clock::now() - 2min);
    }
    // The directory of the file in KRB5_CONFIG (easgate's, before the admin's krb5.conf).
    static fs::path own_directory() {
        const std::string krb5_config = std::getenv("KRB5_CONFIG");
        return fs::path(krb5_config.substr(0, krb5_config.find(':'))).parent_path();
    }

    fs::path dir_;
    fs::path tmp_;
    ScopedVariable krb5_config_{"KRB5_CONFIG", std::nullopt};
    ScopedVariable runtime_directory_{"RUNTIME_DIRECTORY", std::nullopt};
    ScopedVariable tmpdir_{"TMPDIR", std::nullopt};
};

TEST_F(KdcOrderFileTest, AStartRemovesOnlyDirectoriesThatNoRunningGatewayHolds) {
    const ScopedVariable tmpdir("TMPDIR", tmp_.string());
    const auto abandoned = left_behind("easgate-krb5.AbCd12");
    const auto just_made = tmp_ / "easgate-krb5.JustMd";  // its maker is about to lock it
    fs::create_directories(just_made);
    const auto someone_elses = left_behind("easgate-krb5-notes");
    const auto target = left_behind("target");
    fs::create_directory_symlink(target, tmp_ / "easgate-krb5.Link00");

    // A gateway that runs holds its directory: a lock of another open file, as another process's.
    const auto held = left_behind("easgate-krb5.Held00");
    const int held_fd = ::open(held.c_str(), O_RDONLY | O_DIRECTORY);
    ASSERT_GE(held_fd, 0);
    ASSERT_EQ(::flock(held_fd, LOCK_EX | LOCK_NB), 0);

    {
        const KdcOrderFile order("/etc/krb5.conf");
        EXPECT_EQ(own_directory().parent_path(), tmp_);
        EXPECT_FALSE(fs::exists(abandoned)) << "left by a gateway that did not exit";
        EXPECT_TRUE(fs::exists(held / "kdc-order.conf")) << "in use by a running gateway";
        EXPECT_TRUE(fs::exists(just_made));
        EXPECT_TRUE(fs::exists(someone_elses / "kdc-order.conf"));
        EXPECT_TRUE(fs::exists(target / "kdc-order.conf")) << "a link is not followed";
        EXPECT_TRUE(fs::is_symlink(tmp_ / "easgate-krb5.Link00"));

        // This gateway's own directory, however old, is held while it runs.
        const auto own = own_directory();
        age(own);
        const KdcOrderFile second("/etc/krb5.conf");
        EXPECT_TRUE(fs::exists(own / "kdc-order.conf")) << "a second start removed a running gateway's file";
    }
    ::close(held_fd);
    const KdcOrderFile after_the_holder_died("/etc/krb5.conf");
    EXPECT_FALSE(fs::exists(held)) << "the lock goes with its process";
}

TEST_F(KdcOrderFileTest, GoesInSystemdsRuntimeDirectoryBeforeTmpdir) {
    const auto run = dir_ / "run";
    fs::create_directories(run);
    const ScopedVariable tmpdir("TMPDIR", tmp_.string());
    const ScopedVariable runtime("RUNTIME_DIRECTORY", run.string() + ":" + (dir_ / "second").string());
    fs::path own;
    {
        const KdcOrderFile order("/etc/krb5.conf");
        own = own_directory();
        EXPECT_EQ(own.parent_path(), run);
        EXPECT_TRUE(fs::exists(own / "kdc-order.conf"));
    }
    EXPECT_FALSE(fs::exists(own)) << "removed at exit";
    EXPECT_EQ(std::getenv("KRB5_CONFIG"), nullptr) << "KRB5_CONFIG is put back as it was";
}

// An inherited RUNTIME_DIRECTORY or a TMPDIR easgate can't use: the next of them takes the file.
TEST_F(KdcOrderFileTest, ADirectoryItCantUseIsPassedOver) {
    const ScopedVariable runtime("RUNTIME_DIRECTORY", (dir_ / "gone").string());
    {
        const ScopedVariable tmpdir("TMPDIR", tmp_.string());
        const KdcOrderFile order("/etc/krb5.conf");
        EXPECT_EQ(own_directory().parent_path(), tmp_);
    }
    const ScopedVariable tmpdir("TMPDIR", (dir_ / "missing").string());
    const KdcOrderFile order("/etc/krb5.conf");
    EXPECT_EQ(own_directory().parent_path(), "/tmp");
    EXPECT_TRUE(fs::exists(own_directory() / "kdc-order.conf"));
}

}  // namespace
}  // namespace easgate::kerberos
