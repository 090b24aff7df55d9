#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <exception>
#include <memory>
#include <optional>

#include "certificate_checks.hpp"
#include "easgate/directory/certificate_mapping.hpp"

namespace easgate::doctor {
namespace {

directory::MappedAccount find(const directory::CertificateMapping& mapping,
                              const identity::CertificateIdentity& device) {
    boost::asio::io_context io;
    directory::MappedAccount result{common::Failure::unavailable("the lookup did not complete"),
                                    std::nullopt};
    boost::asio::co_spawn(io, mapping.find_account(device),
                          [&result](std::exception_ptr error, directory::MappedAccount found) {
                              if (!error) result = std::move(found);
                          });
    io.run();
    return result;
}

std::string remedy_for(const std::string& cause) {
    if (cause == "not_found")
        return "check the user's userPrincipalName (or mail, objectSid, altSecurityIdentities, "
               "as identity.mapping lists) against the certificate, and directory.base_dn";
    if (cause == "disabled") return "enable the account in Active Directory Users and Computers";
    if (cause == "not_delegable")
        return "clear \"Account is sensitive and cannot be delegated\" on the user (and remove them from "
               "Protected Users)";
    if (cause == "locked_out") return "unlock the account in Active Directory Users and Computers";
    if (cause == "expired") return "extend the account's expiry (Account tab, Account expires)";
    if (cause == "predates_account")
        return "issue the user a new certificate (with the user's SID it maps strongly, whatever its "
               "dates), and revoke this one if an earlier holder of the name still has it";
    if (cause == "unavailable") return "see the directory checks above";
    return "see the reason: it names the AD or CA action";
}

}  // namespace

// The account is looked for as a request looks for it, so the outcome is the one the device gets.
void check_directory_account(const config::Config& config, const identity::CertificateIdentity& device,
                             SharedDirectory& shared, Report& report) {
    if (!config.directory) {
        report.skip("device", "directory account",
                    "no directory section: devices are not mapped to accounts");
        return;
    }
    std::shared_ptr<directory::DirectoryClient> client;
    try {
        client = shared.client();
    } catch (const config::ConfigError& e) {
        report.fail("device", "directory account", e.what(), "correct the directory section");
        return;
    }
    const auto [found, by] = find(directory::CertificateMapping(config.identity, client), device);
    if (!found) {
        const auto& failure = found.error();
        report.fail("device", "directory account",
                    failure.cause +
                        (by ? std::string(" (mapping ") + directory::mapping_name(*by) + ")" : "") + ": " +
                        failure.reason,
                    remedy_for(failure.cause));
        return;
    }
    report.pass("device", "directory account",
                (*found)->distinguished_name + " (" + (*found)->upn + "), mapped by " +
                    (by ? directory::mapping_name(*by) : "?") +
                    (device.sid.empty() || config.identity.strong_mapping == config::StrongMapping::off
                         ? ""
                         : ", its objectSid matching the certificate's SID"));
}

}  // namespace easgate::doctor
