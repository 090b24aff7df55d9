#pragma once

#include <string>
#include <vector>

namespace easgate::doctor {

enum class Verdict { pass, warn, fail, skip };

// One check's outcome, as `easgate doctor` prints it: what was found and, unless it passed, the
// remedy (the AD, Exchange or CA action that fixes it).
struct Finding {
    std::string area;   // "config", "tls", "kerberos", "directory", "delegation", "exchange", "device"
    std::string check;  // short and stable: "listener certificate", "keytab kvno", "target SPN"
    Verdict verdict = Verdict::pass;
    std::string found;
    std::string remedy;
};

// Everything one `easgate doctor` run found, in the order the checks ran.
class Report {
public:
    void add(Finding finding) { findings_.push_back(std::move(finding)); }
    void pass(std::string area, std::string check, std::string found);
    void warn(std::string area, std::string check, std::string found, std::string remedy);
    void fail(std::string area, std::string check, std::string found, std::string remedy);
    // Not run, because what it needs is not configured or an earlier check failed.
    void skip(std::string area, std::string check, std::string why);

    bool failed() const;
    const std::vector<Finding>& findings() const { return findings_; }
    // PASS / WARN / FAIL / SKIP lines, each remedy under its check, and a summary line.
    std::string text() const;
    // {"ok": bool, "checks": [{"area", "check", "verdict", "found", "remedy"}]}
    std::string json() const;

private:
    std::vector<Finding> findings_;
};

const char* verdict_name(Verdict verdict);  // "PASS", "WARN", "FAIL", "SKIP"

}  // namespace easgate::doctor
