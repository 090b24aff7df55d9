#include "child_process.hpp"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <thread>

namespace easgate::testing {
namespace {

// Waits up to timeout for pid (our child, or an orphan handed to us as subreaper); its wait
// status, or -1 if it still runs.
int wait_status(pid_t pid, std::chrono::seconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
        int status = 0;
        if (waitpid(pid, &status, WNOHANG) == pid) return status;
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return -1;
}

// A test binary that dies mid-test (a crash, an abort, a sanitizer's report, ctest's timeout)
// takes what it started with it, instead of leaving an easgate running that holds its ports.
TEST(ChildProcessTest, DiesWithTheTestBinaryThatStartedIt) {
    ASSERT_EQ(prctl(PR_SET_CHILD_SUBREAPER, 1), 0) << "orphans come to this process, to be waited for";
    int pid_pipe[2];
    ASSERT_EQ(pipe(pid_pipe), 0);
    const auto dir = make_temp_dir("orphan");
    // The stand-in for a test binary: starts a child as tests start easgate, from a thread of its
    // own that ends first (as a device loop's would), then is killed with no destructor run.
    const pid_t test_binary = fork();
    if (test_binary == 0) {
        pid_t sleeper = -1;
        std::thread starter([&] {
            auto* child = new ChildProcess({"sleep", "60"}, dir / "out", dir / "err");
            sleeper = child->pid();
        });
        starter.join();
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
        if (waitpid(sleeper, nullptr, WNOHANG) != 0) sleeper = -2;  // it died with the thread
        [[maybe_unused]] const auto written = write(pid_pipe[1], &sleeper, sizeof sleeper);
        raise(SIGKILL);
    }
    close(pid_pipe[1]);
    pid_t sleeper = -1;
    ASSERT_EQ(read(pid_pipe[0], &sleeper, sizeof sleeper), static_cast<ssize_t>(sizeof sleeper));
    close(pid_pipe[0]);
    ASSERT_NE(sleeper, -1) << "the stand-in could not start its child";
    ASSERT_NE(sleeper, -2) << "the child died with the thread that started it, not with the process";
    const int stand_in = wait_status(test_binary, std::chrono::seconds(10));
    EXPECT_TRUE(WIFSIGNALED(stand_in) && WTERMSIG(stand_in) == SIGKILL);

    const int orphan = wait_status(sleeper, std::chrono::seconds(10));
    if (orphan == -1) kill(sleeper, SIGKILL), wait_status(sleeper, std::chrono::seconds(5));
    prctl(PR_SET_CHILD_SUBREAPER, 0);
    std::filesystem::remove_all(dir);
    ASSERT_NE(orphan, -1) << "the child outlived the test binary that started it";
    EXPECT_TRUE(WIFSIGNALED(orphan) && WTERMSIG(orphan) == SIGKILL);
}

TEST(ChildProcessTest, AProgramThatCannotStartIsAnErrorThatNamesIt) {
    const auto dir = make_temp_dir("missing");
    try {
        ChildProcess missing({"easgate-no-such-program"}, dir / "out", dir / "err");
        ADD_FAILURE() << "started a program that does not exist";
    } catch (const std::runtime_error& error) {
        EXPECT_EQ(std::string(error.what()),
                  "cannot start easgate-no-such-program: No such file or directory");
    }
    std::filesystem::remove_all(dir);
}

TEST(ChildProcessTest, ReportsTheExitCodeAndTheOutput) {
    const auto result = run_command({"sh", "-c", "echo out; echo err >&2; exit 3"});
    EXPECT_EQ(result.exit_code, 3);
    EXPECT_EQ(result.out, "out\n");
    EXPECT_EQ(result.err, "err\n");
}

}  // namespace
}  // namespace easgate::testing
