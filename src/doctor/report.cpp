#include "easgate/doctor/report.hpp"

#include <algorithm>
#include <nlohmann/json.hpp>

namespace easgate::doctor {

const char* verdict_name(Verdict verdict) {
    switch (verdict) {
        case Verdict::pass:
            return "PASS";
        case Verdict::warn:
            return "WARN";
        case Verdict::fail:
            return "FAIL";
        case Verdict::skip:
            return "SKIP";
    }
    return "?";
}

void Report::pass(std::string area, std::string check, std::string found) {
    add({std::move(area), std::move(check), Verdict::pass, std::move(found), {}});
}

void Report::warn(std::string area, std::string check, std::string found, std::string remedy) {
    add({std::move(area), std::move(check), Verdict::warn, std::move(found), std::move(remedy)});
}

void Report::fail(std::string area, std::string check, std::string found, std::string remedy) {
    add({std::move(area), std::move(check), Verdict::fail, std::move(found), std::move(remedy)});
}

void Report::skip(std::string area, std::string check, std::string why) {
    add({std::move(area), std::move(check), Verdict::skip, std::move(why), {}});
}

bool Report::failed() const {
    return std::any_of(findings_.begin(), findings_.end(),
                       [](const Finding& f) { return f.verdict == Verdict::fail; });
}

std::string Report::text() const {
    // Appended piece by piece: GCC 12 at -O3 misreports `"literal" + std::string` (-Wrestrict).
    std::string out;
    std::size_t counts[4] = {};
    for (const auto& f : findings_) {
        ++counts[static_cast<std::size_t>(f.verdict)];
        out.append(verdict_name(f.verdict)).append("  ").append(f.area).append(": ");
        out.append(f.check).append(": ").append(f.found).append("\n");
        if (!f.remedy.empty()) out.append("      remedy: ").append(f.remedy).append("\n");
    }
    out.append("\n").append(std::to_string(counts[0])).append(" passed, ");
    out.append(std::to_string(counts[1])).append(" warnings, ");
    out.append(std::to_string(counts[2])).append(" failed, ");
    out.append(std::to_string(counts[3])).append(" skipped\n");
    return out;
}

std::string Report::json() const {
    auto checks = nlohmann::json::array();
    for (const auto& f : findings_)
        checks.push_back({{"area", f.area},
                          {"check", f.check},
                          {"verdict", verdict_name(f.verdict)},
                          {"found", f.found},
                          {"remedy", f.remedy}});
    return nlohmann::json{{"ok", !failed()}, {"checks", checks}}.dump(2) + "\n";
}

}  // namespace easgate::doctor
