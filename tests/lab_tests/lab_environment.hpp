#pragma once

// The loopback lab's facts (LAB_DIR/lab.env, written by tests/lab/start.sh): realm, keytabs, URLs.

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace easgate::testing {

class LabEnvironment {
public:
    // Reads lab.env once; also points KRB5_CONFIG at the lab's krb5.conf (before any thread
    // starts, since krb5 reads it from the environment).
    static const LabEnvironment& get();

    // The value of a lab.env variable, e.g. at("LAB_EASGATE_KEYTAB"); fails the test if absent.
    std::string at(const std::string& name) const;

    // Pieces of an easgate configuration for the lab; `extra` is more YAML lines for the entry or
    // section, indented like its keys.
    // A "  - " entry under listeners: on the gateway's address and certificate.
    std::string listener_yaml(std::uint16_t port, const std::string& trusted_ca_file,
                              const std::string& upstream = "") const;
    // A "  - " entry under upstreams: for the Exchange stand-in whose base URL is lab.env's backend_var
    // (or server, when not empty).
    std::string upstream_yaml(const std::string& name, const std::string& backend_var,
                              const std::string& authenticate, const std::string& extra = "",
                              const std::string& server = "") const;
    // The directory: section on the lab DC (its LDAPS URL when uris is empty).
    std::string directory_yaml(const std::string& uris = "", const std::string& extra = "") const;
    // The kerberos: section with the account named by lab.env's principal_var and keytab_var.
    std::string kerberos_yaml(const std::string& principal_var = "LAB_EASGATE_PRINCIPAL",
                              const std::string& keytab_var = "LAB_EASGATE_KEYTAB",
                              const std::string& krb5_conf = "", const std::string& extra = "") const;

    // The lab's krb5.conf with kdcs ("host:port") as the realm's KDCs instead of dc1 and dc2.
    std::string krb5_conf_with_kdcs(const std::vector<std::string>& kdcs) const;

private:
    std::map<std::string, std::string> values_;
};

// A command prefix that runs a program with its wall clock shifted by offset ("+10m") through
// libfaketime, its monotonic clock left alone (shifted, it would stretch timed waits). LD_PRELOAD
// through env, which execs: the program keeps the pid a test stops, where the faketime command
// forks a child that outlives the stop.
std::vector<std::string> with_clock_ahead(const std::string& offset);

}  // namespace easgate::testing
