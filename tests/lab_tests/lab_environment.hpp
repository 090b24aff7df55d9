#pragma once

// The loopback lab's facts (LAB_DIR/lab.env, written by tests/lab/start.sh): realm, keytabs, URLs.

#include <map>
#include <string>

namespace easgate::testing {

class LabEnvironment {
public:
    // Reads lab.env once; also points KRB5_CONFIG at the lab's krb5.conf (before any thread
    // starts, since krb5 reads it from the environment).
    static const LabEnvironment& get();

    // The value of a lab.env variable, e.g. at("LAB_EASGATE_KEYTAB"); fails the test if absent.
    std::string at(const std::string& name) const;

private:
    std::map<std::string, std::string> values_;
};

}  // namespace easgate::testing
