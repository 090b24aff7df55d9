#include <grp.h>
#include <krb5/krb5.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <set>
#include <string_view>

#include "checks.hpp"
#include "directory_session.hpp"
#include "easgate/common/text.hpp"
#include "easgate/delegation/kerberos_errors.hpp"
#include "easgate/kerberos/keytab_login.hpp"
#include "failure_finding.hpp"
#include "service_directory.hpp"

namespace easgate::doctor {
namespace {

// What a keytab holds: every principal named in it, and the newest key version of ours.
struct KeytabContents {
    std::set<std::string> principals;
    int kvno = -1;  // -1: no key for the configured principal
    std::string error;
};

// Readable, and only by the service: anyone who can read the keytab can act as easgate, and so
// impersonate every user it may delegate for.
bool check_keytab_file(const config::KerberosConfig& kerberos, Report& report) {
    struct stat file {};
    if (stat(kerberos.keytab.c_str(), &file) != 0 || access(kerberos.keytab.c_str(), R_OK) != 0) {
        report.fail(
            kerberos_area, "keytab file", kerberos.keytab + " can't be read: " + std::strerror(errno),
            "export the keytab of " + kerberos.principal + " to that path, or correct kerberos.keytab");
        return false;
    }
    if (const auto problem = service_cannot_read(kerberos.keytab, ServiceUnit::installed());
        !problem.why.empty()) {
        report.fail(kerberos_area, "keytab file",
                    kerberos.keytab + " can't be read by the service easgate: " + problem.why,
                    problem.remedy);
        return false;
    }
    const group* owning_group = getgrgid(file.st_gid);
    const bool group_ok = (file.st_mode & 070) == 0 ||
                          (owning_group != nullptr && std::string_view(owning_group->gr_name) == "easgate" &&
                           (file.st_mode & 030) == 0);
    const std::string found = kerberos.keytab + " is " + owner_and_mode(file);
    if ((file.st_mode & 07) != 0 || !group_ok) {
        report.warn(kerberos_area, "keytab file",
                    found + ": others than the service can read it (it holds easgate's key)",
                    "chown root:easgate " + kerberos.keytab + " && chmod 0640 " + kerberos.keytab);
    } else {
        report.pass(kerberos_area, "keytab file", found);
    }
    return true;
}

KeytabContents read_keytab(const kerberos::Krb5Context& context, const config::KerberosConfig& kerberos) {
    KeytabContents contents;
    krb5_keytab keytab = nullptr;
    krb5_principal wanted = nullptr;
    krb5_kt_cursor cursor = nullptr;
    krb5_error_code code = krb5_parse_name(context.get(), kerberos.principal.c_str(), &wanted);
    if (code == 0) code = krb5_kt_resolve(context.get(), kerberos.keytab.c_str(), &keytab);
    if (code == 0) code = krb5_kt_start_seq_get(context.get(), keytab, &cursor);
    krb5_keytab_entry entry;
    while (code == 0 && krb5_kt_next_entry(context.get(), keytab, &entry, &cursor) == 0) {
        char* name = nullptr;
        if (krb5_unparse_name(context.get(), entry.principal, &name) == 0) {
            contents.principals.insert(name);
            krb5_free_unparsed_name(context.get(), name);
        }
        if (krb5_principal_compare(context.get(), entry.principal, wanted))
            contents.kvno = std::max(contents.kvno, static_cast<int>(entry.vno));
        krb5_free_keytab_entry_contents(context.get(), &entry);
    }
    if (code != 0) contents.error = context.message(code);
    if (cursor != nullptr) krb5_kt_end_seq_get(context.get(), keytab, &cursor);
    if (keytab != nullptr) krb5_kt_close(context.get(), keytab);
    if (wanted != nullptr) krb5_free_principal(context.get(), wanted);
    return contents;
}

bool check_keytab_principal(const KeytabContents& contents, const config::KerberosConfig& kerberos,
                            Report& report) {
    if (!contents.error.empty()) {
        report.fail(
            kerberos_area, "keytab principal", kerberos.keytab + " is no keytab: " + contents.error,
            "make the keytab again (ktutil with -f, as docs/admin-guide.md step 2 shows, or samba-tool "
            "domain exportkeytab)");
        return false;
    }
    if (contents.kvno >= 0) {
        report.pass(kerberos_area, "keytab principal",
                    "holds keys of " + kerberos.principal + " (kvno " + std::to_string(contents.kvno) + ")");
        return true;
    }
    const std::string held = common::join(contents.principals);
    report.fail(kerberos_area, "keytab principal",
                kerberos.keytab + " has no key for " + kerberos.principal +
                    "; it holds: " + (held.empty() ? "nothing" : held),
                "point kerberos.keytab at the keytab of " + kerberos.principal +
                    ", or set kerberos.principal to the account this keytab belongs to");
    return false;
}

// The KDC encrypts with the account's current key; a keytab from before a password change holds
// an older one, which AD's msDS-KeyVersionNumber tells apart.
void check_kvno(const config::Config& config, int keytab_kvno, Report& report) {
    const auto& kerberos = *config.kerberos;
    if (!config.directory) {
        report.skip(kerberos_area, "keytab kvno", "no directory: section to read msDS-KeyVersionNumber with");
        return;
    }
    std::string error;
    std::optional<directory::LdapEntry> account;
    try {
        DirectorySession session(*config.directory, &kerberos);
        const auto opened = session.open_any();
        if (opened.ok())
            account = session.account(account_name(kerberos.principal), error, {"msDS-KeyVersionNumber"});
        else
            error = opened.message;
    } catch (const config::ConfigError& e) {
        error = e.what();
    }
    if (!error.empty() || !account) {
        report.skip(kerberos_area, "keytab kvno",
                    "can't read msDS-KeyVersionNumber of " + account_name(kerberos.principal) + ": " +
                        (error.empty() ? "no such account" : error));
        return;
    }
    const std::string directory_kvno = first_value(*account, "msDS-KeyVersionNumber");
    const std::string found = "keytab kvno " + std::to_string(keytab_kvno) + ", msDS-KeyVersionNumber of " +
                              account_name(kerberos.principal) + " " + directory_kvno;
    if (directory_kvno == std::to_string(keytab_kvno)) {
        report.pass(kerberos_area, "keytab kvno", found);
        return;
    }
    report.fail(
        kerberos_area, "keytab kvno",
        "keytab_stale: " + found + ": the account's password changed after the keytab was exported",
        "make the keytab again with the current key and install it as " + kerberos.keytab +
            ": reset the password (Set-ADAccountPassword -Identity '" + account_name(kerberos.principal) +
            "' -Reset), then here: ktutil, addent -password -p " + kerberos.principal +
            " -k <the new msDS-KeyVersionNumber> -e aes256-cts-hmac-sha1-96 -f, wkt " + kerberos.keytab +
            " (docs/admin-guide.md, step 2); or samba-tool domain exportkeytab easgate.keytab --principal=" +
            account_name(kerberos.principal));
}

void report_skew(krb5_timestamp kdc_time, std::time_t local_time, Report& report) {
    const long skew = static_cast<long>(static_cast<std::uint32_t>(kdc_time)) - static_cast<long>(local_time);
    const std::string found =
        kerberos::clock_against_kdc(skew) + " (from the AS reply's authtime, to the second)";
    const std::string remedy =
        std::string(kerberos::kdc_clock_remedy) + "; Kerberos refuses skews over 5 minutes (AD's default)";
    switch (kerberos::kdc_clock_verdict(skew)) {
        case kerberos::KdcClock::refused:
            report.fail(kerberos_area, "clock skew", "clock_skew: " + found, remedy);
            break;
        case kerberos::KdcClock::drifting:
            report.warn(kerberos_area, "clock skew", found, remedy);
            break;
        case kerberos::KdcClock::agrees:
            report.pass(kerberos_area, "clock skew", found);
    }
}

// An AS exchange with the keytab: proves the key works, and its reply carries the KDC's clock
// (authtime), measured against ours the moment it arrives. MIT sets the encrypted timestamp from
// the KDC's preauth-required error, so a skewed clock still gets a TGT: the skew is then measured.
void check_tgt_and_skew(const config::KerberosConfig& kerberos, Report& report) {
    const kerberos::Krb5Context context;
    krb5_principal client = nullptr;
    krb5_keytab keytab = nullptr;
    krb5_creds creds{};
    krb5_error_code code = krb5_parse_name(context.get(), kerberos.principal.c_str(), &client);
    if (code == 0) code = krb5_kt_resolve(context.get(), kerberos.keytab.c_str(), &keytab);
    if (code == 0)
        code = krb5_get_init_creds_keytab(context.get(), &creds, client, keytab, 0, nullptr, nullptr);
    const std::time_t now = std::time(nullptr);
    if (code == 0) {
        report.pass(kerberos_area, "TGT",
                    "the KDC issued a TGT to " + kerberos.principal + " with the keytab's key");
        report_skew(creds.times.authtime, now, report);
        krb5_free_cred_contents(context.get(), &creds);
    } else {
        const auto failure = delegation::explain_kerberos_failure(delegation::KerberosStep::service_login,
                                                                  delegation::service_names(kerberos), code,
                                                                  context.message(code));
        const bool skew = code == KRB5KRB_AP_ERR_SKEW || code == KRB5_KDCREP_SKEW;
        fail_with(report, kerberos_area, skew ? "clock skew" : "TGT", failure,
                  "the KDC's log names the refusal");
    }
    if (keytab != nullptr) krb5_kt_close(context.get(), keytab);
    if (client != nullptr) krb5_free_principal(context.get(), client);
}

}  // namespace

void check_kerberos(const config::Config& config, Report& report) {
    if (!config.kerberos) {
        report.skip(kerberos_area, "kerberos",
                    "no kerberos: section: easgate passes requests through, no delegation");
        return;
    }
    const auto& kerberos = *config.kerberos;
    if (!check_keytab_file(kerberos, report)) return;
    const kerberos::Krb5Context context;
    const auto contents = read_keytab(context, kerberos);
    if (!check_keytab_principal(contents, kerberos, report)) return;
    check_kvno(config, contents.kvno, report);
    check_tgt_and_skew(kerberos, report);
    check_each_kdc(kerberos, report);
}

}  // namespace easgate::doctor
