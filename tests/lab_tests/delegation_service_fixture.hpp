#pragma once

// DelegationService against the lab's Samba AD DC (tests/lab): real S4U2Self and S4U2Proxy.
#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <nlohmann/json.hpp>
#include <string>

#include "child_process.hpp"
#include "easgate/delegation/delegation_service.hpp"
#include "lab_environment.hpp"

namespace easgate::delegation::lab {

using testing::LabEnvironment;

inline config::KerberosConfig lab_kerberos(const std::string& keytab = "LAB_EASGATE_KEYTAB",
                                           const std::string& principal = "LAB_EASGATE_PRINCIPAL") {
    const LabEnvironment& lab = LabEnvironment::get();
    config::KerberosConfig kerberos;
    kerberos.keytab = lab.at(keytab);
    kerberos.principal = lab.at(principal);
    return kerberos;
}

inline DelegationResult token_for(DelegationService& service, const std::string& user,
                                  const std::string& spn = LabEnvironment::get().at("LAB_MAIL_SPN")) {
    boost::asio::io_context io;
    auto result = boost::asio::co_spawn(io, service.negotiate_token(user, spn), boost::asio::use_future);
    io.run();
    return result.get();
}

// 0 for a token; the device's status for a failure.
inline unsigned status_of(const DelegationResult& result) { return result ? 0 : result.error().status; }
inline std::string detail_of(const DelegationResult& result) {
    return result ? std::string() : result.error().reason;
}
inline std::string token_of(const DelegationResult& result) { return result ? *result : std::string(); }

// The user the lab's Exchange stand-in (Apache + mod_auth_gssapi) authenticated with the token.
inline std::string backend_user(const std::string& token) {
    const LabEnvironment& lab = LabEnvironment::get();
    const auto response = testing::run_command({"curl", "-sS", "--cacert", lab.at("LAB_CA_FILE"), "-H",
                                                "Authorization: Negotiate " + token, lab.at("LAB_MAIL_URL")});
    EXPECT_EQ(response.exit_code, 0) << response.err;
    const auto json = nlohmann::json::parse(response.out, nullptr, false);
    return json.is_object() ? json.value("user", "") : "(not JSON: " + response.out + ")";
}

}  // namespace easgate::delegation::lab
