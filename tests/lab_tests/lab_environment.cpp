#include "lab_environment.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

namespace easgate::testing {

const LabEnvironment& LabEnvironment::get() {
    static const LabEnvironment environment = [] {
        LabEnvironment lab;
        const char* dir = std::getenv("LAB_DIR");
        const std::string path = std::string(dir ? dir : EASGATE_LAB_DIR) + "/lab.env";
        std::ifstream in(path);
        std::string line;
        while (std::getline(in, line)) {
            const auto eq = line.find('=');
            if (line.empty() || line[0] == '#' || eq == std::string::npos) continue;
            std::string value = line.substr(eq + 1);
            if (value.size() >= 2 && value.front() == '\'' && value.back() == '\'')
                value = value.substr(1, value.size() - 2);
            lab.values_[line.substr(0, eq)] = value;
        }
        if (lab.values_.contains("KRB5_CONFIG")) setenv("KRB5_CONFIG", lab.values_["KRB5_CONFIG"].c_str(), 1);
        return lab;
    }();
    return environment;
}

std::string LabEnvironment::at(const std::string& name) const {
    const auto it = values_.find(name);
    EXPECT_NE(it, values_.end()) << name << " is not in lab.env: is the lab started (tests/lab/start.sh)?";
    return it == values_.end() ? "" : it->second;
}

std::string LabEnvironment::krb5_conf_with_kdcs(const std::vector<std::string>& kdcs) const {
    std::ifstream in(at("KRB5_CONFIG"));
    std::string conf, line;
    bool replaced = false;
    while (std::getline(in, line)) {
        const auto key = line.find_first_not_of(" \t");
        if (key == std::string::npos || line.compare(key, 6, "kdc = ") != 0) {
            conf += line + "\n";
        } else if (!replaced) {
            for (const auto& kdc : kdcs) conf += line.substr(0, key) + "kdc = " + kdc + "\n";
            replaced = true;
        }
    }
    EXPECT_TRUE(replaced) << "no kdc line in " << at("KRB5_CONFIG");
    return conf;
}

// clang-format off
std::string LabEnvironment::listener_yaml(std::uint16_t port, const std::string& trusted_ca_file,
                                          const std::string& upstream) const {
    return "  - address: " + at("LAB_GW_IP") + "\n"
           "    port: " + std::to_string(port) + "\n"
           "    certificate: " + at("LAB_GW_CERT") + "\n"
           "    private_key: " + at("LAB_GW_KEY") + "\n" +
           (upstream.empty() ? "" : "    upstream: " + upstream + "\n") +
           "    client_auth:\n"
           "      trusted_ca_file: " + trusted_ca_file + "\n";
}

std::string LabEnvironment::upstream_yaml(const std::string& name, const std::string& backend_var,
                                          const std::string& authenticate, const std::string& extra,
                                          const std::string& server) const {
    return "  - name: " + name + "\n"
           "    servers: [" + (server.empty() ? at(backend_var) : server) + "]\n"
           "    ca_file: " + at("LAB_CA_FILE") + "\n"
           "    service_principal: " + at("LAB_MAIL_SPN") + "\n"
           "    authenticate: " + authenticate + "\n" + extra;
}

std::string LabEnvironment::directory_yaml(const std::string& uris, const std::string& extra) const {
    return "directory:\n"
           "  uris: [" + (uris.empty() ? at("LAB_LDAPS_URL") : uris) + "]\n"
           "  base_dn: " + at("LAB_BASE_DN") + "\n"
           "  ca_file: " + at("LAB_LDAPS_CA_FILE") + "\n" + extra;
}

std::string LabEnvironment::kerberos_yaml(const std::string& principal_var, const std::string& keytab_var,
                                          const std::string& krb5_conf, const std::string& extra) const {
    return "kerberos:\n"
           "  keytab: " + at(keytab_var) + "\n"
           "  principal: " + at(principal_var) + "\n"
           "  krb5_conf: " + (krb5_conf.empty() ? at("KRB5_CONFIG") : krb5_conf) + "\n" + extra;
}
// clang-format on

std::vector<std::string> with_clock_ahead(const std::string& offset) {
    std::string library = "libfaketime.so.1";  // the loader's search, where no multiarch directory has it
    for (const auto& directory : std::filesystem::directory_iterator("/usr/lib")) {
        const auto candidate = directory.path() / "faketime" / "libfaketime.so.1";
        if (std::filesystem::exists(candidate)) library = candidate.string();
    }
    return {"env", "LD_PRELOAD=" + library, "FAKETIME=" + offset, "FAKETIME_DONT_FAKE_MONOTONIC=1"};
}

}  // namespace easgate::testing
