#pragma once

#include <string>

#include "easgate/common/result.hpp"
#include "easgate/doctor/report.hpp"

namespace easgate::doctor {

// A refusal of the request path (directory, KDC) as a FAIL: its reason reads "what happened (what
// the server said): the fix", and the fix becomes the remedy. The cause leads what was found, as
// the metrics and the log name it. A reason without a fix gets `fallback_remedy`.
inline void fail_with(Report& report, std::string area, std::string check, const common::Failure& failure,
                      std::string fallback_remedy) {
    const std::string prefix = failure.cause.empty() ? "" : failure.cause + ": ";
    const auto split = failure.reason.find("): ");
    if (split == std::string::npos) {
        report.fail(std::move(area), std::move(check), prefix + failure.reason, std::move(fallback_remedy));
        return;
    }
    report.fail(std::move(area), std::move(check), prefix + failure.reason.substr(0, split + 1),
                failure.reason.substr(split + 3));
}

}  // namespace easgate::doctor
