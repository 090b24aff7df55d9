#include "easgate/common/spawn_handlers.hpp"

#include <spdlog/spdlog.h>

#include <cstdlib>

namespace easgate::common {
namespace {

std::string describe(std::exception_ptr failure) {
    try {
        std::rethrow_exception(failure);
    } catch (const std::exception& e) {
        return e.what();
    } catch (...) {
        return "an exception of unknown type";
    }
}

}  // namespace

void LogFailure::operator()(std::exception_ptr failure) const {
    if (failure) spdlog::error("{} ended by an internal error: {}", what, describe(failure));
}

void EndProcessOnFailure::operator()(std::exception_ptr failure) const {
    if (!failure) return;
    spdlog::critical("{} ended by an internal error: {}; easgate stops (exit code 70)", what,
                     describe(failure));
    spdlog::default_logger()->flush();
    std::_Exit(70);  // other threads are still running: no static destructors under them
}

}  // namespace easgate::common
