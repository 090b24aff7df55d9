// policy.use_exchange_device_lists reads Exchange's per-user lists from the user's entry. AD answers
// an entry without the attribute alike when the schema has no such attribute, when the user has no
// list, and when easgate's account may not read it: the last two would let a blocked device through
// unnoticed, so the doctor looks for the attributes and for a list it can read.
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

// Each list's definition in the forest's schema.
void check_schema(DirectorySession& session, Report& report) {
    const std::string root_dse;
    const auto root = session.search("(objectClass=*)", {"schemaNamingContext"}, &root_dse);
    const std::string schema =
        root.entries.empty() ? "" : first_value(root.entries.front(), "schemaNamingContext");
    for (const auto& list : device_lists) {
        const std::string check = list + " in the schema";
        if (schema.empty()) {
            report.fail(policy_area, check,
                        "the rootDSE of " + session.uri() + " names no schemaNamingContext" +
                            (root.status.ok() ? "" : ": " + root.status.message),
                        "directory.uris must name domain controllers");
            continue;
        }
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
}

// Whether any account under base_dn has a list easgate's account can read.
void check_readable(DirectorySession& session, Report& report) {
    const auto found =
        session.search_under(session.base_dn(), "(|(" + device_lists[0] + "=*)(" + device_lists[1] + "=*))",
                             {"distinguishedName"}, 1);
    const std::string check = "device lists readable";
    if (!found.status.ok()) {
        report.fail(policy_area, check,
                    "the search for accounts with a device list failed: " + found.status.message,
                    "check directory.base_dn and easgate's rights in the directory");
    } else if (found.entries.empty()) {
        report.warn(
            policy_area, check,
            "no account under " + session.base_dn() + " has a device list that easgate's account can read",
            "expected while Exchange lists no device for anyone; otherwise (Set-CASMailbox "
            "-ActiveSyncBlockedDeviceIDs, or a device blocked in the Exchange admin center) grant "
            "easgate's account Read on " +
                device_lists[0] + " and " + device_lists[1] + " of user objects, or blocked devices pass");
    } else {
        report.pass(
            policy_area, check,
            "read on " + first_value(found.entries.front(), "distinguishedName") + " and maybe others");
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
        check_schema(session, report);
        check_readable(session, report);
    } catch (const config::ConfigError& e) {
        report.fail(policy_area, "Exchange device lists", e.what(), "correct the directory: section");
    }
}

}  // namespace easgate::doctor
