#pragma once

#include <boost/system/result.hpp>
#include <ostream>
#include <stdexcept>
#include <string>

namespace easgate::common {

// With a 503 for a failure of ours or Exchange's: EAS clients wait this long before trying again.
constexpr unsigned retry_after_seconds = 30;

// The one way a step of the request path fails, from the stages to the directory, delegation and
// upstream: the status the device is answered with and, for the operator's log, what happened and
// the remedy. The device sees only the status.
struct Failure {
    unsigned status = 503;
    std::string reason;
    unsigned retry_after_seconds = 0;  // with 503: when the device should try again
    // Why, as a short stable word for metrics labels and tests ("disabled", "not_found", "policy");
    // empty where the status says enough.
    std::string cause;

    Failure() = default;
    // All three named, so that a Result<int> or Result<unsigned> is never mistaken for a Failure.
    Failure(unsigned status, std::string reason, unsigned retry_after_seconds)
        : status(status), reason(std::move(reason)), retry_after_seconds(retry_after_seconds) {}

    // The user may not pass (disabled, unknown, refused by the KDC): the administrator decides.
    static Failure refused(std::string reason) { return {403, std::move(reason), 0}; }
    // With its cause named, for the access log and metrics: refused("disabled", "account disabled").
    static Failure refused(std::string cause, std::string reason) {
        return refused(std::move(reason)).because(std::move(cause));
    }
    // Our infrastructure failed, not the user: the device keeps its account and retries later.
    static Failure unavailable(std::string reason) {
        return {503, std::move(reason), common::retry_after_seconds};
    }
    // What Exchange would refuse or could not be reached for: the administrator can fix it.
    static Failure bad_gateway(std::string reason) { return {502, std::move(reason), 0}; }
    static Failure gateway_timeout(std::string reason) { return {504, std::move(reason), 0}; }

    // The same failure, with its cause named: Failure::refused(text).because("disabled").
    Failure because(std::string why) && {
        cause = std::move(why);
        return std::move(*this);
    }

    bool operator==(const Failure&) const = default;
};

// A value, or the Failure that stands in its place. Result<> is success or a Failure.
template <class T = void>
using Result = boost::system::result<T, Failure>;

// Reached only by Result::value() on a failure, a programming error: callers test first.
[[noreturn]] inline void throw_exception_from_error(const Failure& failure, const boost::source_location&) {
    throw std::logic_error("value() of a failed Result: " + std::to_string(failure.status) + " " +
                           failure.reason);
}

// For test failure messages.
inline std::ostream& operator<<(std::ostream& out, const Failure& failure) {
    out << failure.status;
    if (!failure.cause.empty()) out << " (" << failure.cause << ")";
    return out << " " << failure.reason;
}

}  // namespace easgate::common
