#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <exception>
#include <memory>
#include <optional>

#include "certificate_checks.hpp"
#include "easgate/directory/certificate_mapping.hpp"

namespace easgate::doctor {
namespace {

directory::UserLookup find(const directory::CertificateMapping& mapping,
                           const identity::CertificateIdentity& device) {
    boost::asio::io_context io;
    directory::UserLookup result = common::Failure::unavailable("the lookup did not complete");
    boost::asio::co_spawn(io, mapping.find_account(device),
                          [&result](std::exception_ptr error, directory::UserLookup found) {
                              if (!error) result = std::move(found);
                          });
    io.run();
    return result;
}

std::string remedy_for(const std::string& cause) {
    if (cause == "not_found")
        return "check the user's userPrincipalName (or mail, objectSid, altSecurityIdentities, as "
               "identity.mapping "
               "lists) against the certificate, and directory.base_dn";
    if (cause == "disabled") return "enable the account in Active Directory Users and Computers";
    if (cause == "not_delegable")
        return "clear \"Account is sensitive and cannot be delegated\" on the user (and remove them from "
               "Protected Users)";
    if (cause == "locked_out") return "unlock the account in Active Directory Users and Computers";
    if (cause == "expired") return "extend the account's expiry (Account tab, Account expires)";
    if (cause == "predates_account")
        return "issue the user a new certificate (with the SID extension it maps strongly, whatever its "
               "dates), and revoke this one if an earlier holder of the name still has it";
    if (cause == "unavailable") return "see the directory checks above";
    return "see the reason: it names the AD or CA action";
}

}  // namespace

// Each mapping is tried alone, in identity.mapping's order, so the report can say which one found
// the account; find_account tries them the same way, so the outcome is the one a request gets.
void check_directory_account(const config::Config& config, const identity::CertificateIdentity& device,
                             Report& report) {
    if (!config.directory) {
        report.skip("device", "directory account",
                    "no directory section: devices are not mapped to accounts");
        return;
    }
    std::shared_ptr<directory::DirectoryClient> client;
    try {
        client = std::make_shared<directory::DirectoryClient>(*config.directory,
                                                              config.kerberos ? &*config.kerberos : nullptr);
    } catch (const config::ConfigError& e) {
        report.fail("device", "directory account", e.what(), "correct the directory section");
        return;
    }
    std::string tried;
    std::optional<common::Failure> weak;  // the first account refused as found only weakly
    auto weak_by = config::CertificateMapping::upn;
    const auto refusal = [](const common::Failure& failure, config::CertificateMapping mapping) {
        return failure.cause + " (mapping " + directory::mapping_name(mapping) + "): " + failure.reason;
    };
    for (const auto mapping : config.identity.mapping) {
        auto alone = config.identity;
        alone.mapping = {mapping};
        const directory::CertificateMapping one(std::move(alone), client);
        auto found = find(one, device);
        if (!found && found.error().cause == "not_found") {
            tried += (tried.empty() ? "" : "; ") + found.error().reason;
            continue;
        }
        if (!found && directory::is_weak_refusal(found.error().cause)) {  // a later mapping may be strong
            if (!weak) {
                weak = found.error();
                weak_by = mapping;
            }
            continue;
        }
        if (!found) {
            report.fail("device", "directory account", refusal(found.error(), mapping),
                        remedy_for(found.error().cause));
            return;
        }
        report.pass("device", "directory account",
                    (*found)->distinguished_name + " (" + (*found)->upn + "), mapped by " +
                        directory::mapping_name(mapping) +
                        (device.sid.empty() || config.identity.strong_mapping == config::StrongMapping::off
                             ? ""
                             : ", its objectSid matching the SID extension"));
        return;
    }
    if (weak) {
        report.fail("device", "directory account", refusal(*weak, weak_by), remedy_for(weak->cause));
        return;
    }
    report.fail("device", "directory account",
                "not_found: " +
                    (tried.empty() ? "the certificate has nothing identity.mapping can search by" : tried),
                remedy_for("not_found"));
}

}  // namespace easgate::doctor
