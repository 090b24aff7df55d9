#include "easgate/common/spawn_handlers.hpp"

#include <gtest/gtest.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <sstream>
#include <stdexcept>

#include "captured_log.hpp"

namespace easgate::common {
namespace {

using easgate::testing::CapturedLog;

TEST(LogFailure, SaysWhatEndedAndWhy) {
    CapturedLog log;
    LogFailure{"health check of https://mail1"}(std::make_exception_ptr(std::runtime_error("bad_alloc-ish")));
    EXPECT_NE(log.out.str().find("health check of https://mail1 ended by an internal error: bad_alloc-ish"),
              std::string::npos)
        << log.out.str();
}

TEST(LogFailure, SaysNothingWhenTheCoroutineEndedNormally) {
    CapturedLog log;
    LogFailure{"health check"}(nullptr);
    EXPECT_TRUE(log.out.str().empty()) << log.out.str();
}

TEST(EndProcessOnFailureDeathTest, EndsTheProcessWithExitCode70) {
    const auto end_listener = [] {
        spdlog::set_default_logger(spdlog::stderr_logger_st("stderr"));  // where the death test looks
        EndProcessOnFailure{"the device listener's accept loop"}(
            std::make_exception_ptr(std::runtime_error("epoll_ctl: Bad file descriptor")));
    };
    EXPECT_EXIT(end_listener(), ::testing::ExitedWithCode(70),
                "the device listener's accept loop ended by an internal error: epoll_ctl");
    EndProcessOnFailure{"accept loop"}(nullptr);  // a normal end: the process goes on
}

}  // namespace
}  // namespace easgate::common
