#pragma once

// Completion handlers for co_spawn. asio::detached drops an exception that ends a coroutine without
// a word; these say what ended and why.

#include <exception>
#include <string>

namespace easgate::common {

// Logs the exception that ended the coroutine named by `what` ("health check of https://mail…").
struct LogFailure {
    std::string what;
    void operator()(std::exception_ptr failure) const;
};

// For a loop easgate is useless without (accepting connections): logs the exception and ends the
// process with exit code 70, so that systemd restarts it rather than leave it running deaf.
struct EndProcessOnFailure {
    std::string what;
    void operator()(std::exception_ptr failure) const;
};

}  // namespace easgate::common
