// policy.use_exchange_device_lists reads Exchange's per-user lists from the user's entry. AD answers
// an entry without the attribute alike when the schema has no such attribute, when the user has no
// list, and when easgate's account may not read it: the last two would let a blocked device through
// unnoticed, so the doctor looks for the attributes and for a list it can read.
#include <cstdlib>
#include <string>
#include <vector>

#include "checks.hpp"
#include "directory_session.hpp"

namespace easgate::doctor {
namespace {

constexpr const char* policy_area = "policy";
const std::vector<std::string> device_lists = {"msExchMobileBlockedDeviceIDs",
                                               "msExchMobileAllowedDeviceIDs"};
// searchFlags' fCONFIDENTIAL: only accounts with the Control Access right on the entry read it.
constexpr unsigned long confidential_flag = 0x80;

// Each list's definition in the forest's schema; false when the schema can't be found.
bool check_schema(DirectorySession& session, Report& report) {
    const std::string root_dse;
    const auto root = session.search("(objectClass=*)", {"schemaNamingContext"}, &root_dse);
    const std::string schema =
        root.entries.empty() ? "" : first_value(root.entries.front(), "schemaNamingContext");
    if (schema.empty()) {
        report.fail(policy_area, "Exchange device lists",
                    "the rootDSE of " + session.uri() + " names no schemaNamingContext" +
                        (root.status.ok() ? "" : ": " + root.status.message),
                    root.status.ok() ? "directory.uris must name domain controllers"
                                     : "the directory checks above say why the DC does not answer");
        return false;
    }
    for (const auto& list : device_lists) {
        const std::string check = list + " in the schema";
        const auto found = session.search_under(
            schema, "(&(objectClass=attributeSchema)(lDAPDisplayName=" + list + "))", {"searchFlags"}, 1);
        if (!found.status.ok()) {
            report.fail(
                policy_area, check, "the search under " + schema + " failed: " + found.status.message,
                "easgate's account must be able to read the schema (Authenticated Users can by default)");
        } else if (found.entries.empty()) {
            report.fail(policy_area, check,
                        "the forest's schema has no " + list +
                            ": Exchange's schema extension is missing, so use_exchange_device_lists blocks "
                            "no device",
                        "run Exchange Setup /PrepareSchema in this forest, or set "
                        "policy.use_exchange_device_lists: false and list devices in policy.rules");
        } else if (std::strtoul(first_value(found.entries.front(), "searchFlags").c_str(), nullptr, 10) &
                   confidential_flag) {
            report.warn(policy_area, check, list + " is confidential (searchFlags 0x80)",
                        "grant easgate's account Control Access on " + list +
                            " of user objects, or it reads no list and blocks no device");
        } else {
            report.pass(policy_area, check, "defined");
        }
    }
    return true;
}

// Whether any user under base_dn has a list easgate's account can read; each list on its own, as
// either unreadable lets devices through (the blocked list most of all).
void check_readable(DirectorySession& session, Report& report) {
    for (const auto& list : device_lists) {
        const std::string check = list + " readable";
        const auto found = session.search_under(
            session.base_dn(), "(&(objectCategory=person)(objectClass=user)(" + list + "=*))",
            {"distinguishedName"}, 1);
        if (found.status.ok() && !found.entries.empty()) {
            report.pass(
                policy_area, check,
                "read on " + first_value(found.entries.front(), "distinguishedName") + " and maybe others");
        } else if (found.status.ok()) {
            report.warn(
                policy_area, check,
                "no user under " + session.base_dn() + " has a " + list + " that easgate's account can read",
                "expected while Exchange lists no such device for anyone; otherwise (Set-CASMailbox "
                "-ActiveSyncBlockedDeviceIDs or -ActiveSyncAllowedDeviceIDs, a device blocked or "
                "allowed in the Exchange admin center) grant easgate's account Read on " +
                    list + " of user objects");
        } else {
            report.warn(
                policy_area, check,
                "the search for users with a " + list + " failed: " + found.status.message,
                "a domain-wide search of an attribute that is not indexed can take longer than "
                "directory.timeout on a large domain: raise it for the doctor's run, or run it again");
        }
    }
}

}  // namespace

void check_exchange_device_lists(const config::Config& config, Report& report) {
    if (!config.policy || !config.policy->use_exchange_device_lists || !config.directory) return;
    try {
        DirectorySession session(*config.directory, config.kerberos ? &*config.kerberos : nullptr);
        if (const auto status = session.open_any(); !status.ok()) {
            report.skip(policy_area, "Exchange device lists",
                        "not checked: no directory server bound: " + status.message);
            return;
        }
        if (check_schema(session, report)) check_readable(session, report);
    } catch (const config::ConfigError& e) {
        report.fail(policy_area, "Exchange device lists", e.what(), "correct the directory: section");
    }
}

}  // namespace easgate::doctor
