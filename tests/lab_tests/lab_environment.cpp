#include "lab_environment.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
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

}  // namespace easgate::testing
