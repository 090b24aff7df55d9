#pragma once

#include <optional>
#include <string>

#include "easgate/doctor/report.hpp"

namespace easgate::doctor {

struct DoctorOptions {
    std::string config_path;
    std::optional<std::string> user;         // --user UPN: look up, S4U2Self/S4U2Proxy, ask Exchange
    std::optional<std::string> certificate;  // --certificate FILE: a device certificate (PEM)
};

// Checks a deployment the way its troubleshooting guide would: the configuration, TLS material,
// keytab and KDC, the delegation set-up in AD, the directory, and optionally a user and a device
// certificate. Never throws; a check that cannot run is a finding too.
Report run_doctor(const DoctorOptions& options);

}  // namespace easgate::doctor
