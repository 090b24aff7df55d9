// Each KDC that krb5.conf names for easgate's realm, asked on its own. krb5 tries them in order
// and waits 10 s in every exchange for one that accepts the connection and never answers, so a
// hung KDC costs new users that time until a running easgate notices it (kerberos::KdcWatch);
// the TGT check only shows that some KDC answered.
#include <krb5/krb5.h>

#include <chrono>
#include <string>

#include "checks.hpp"
#include "easgate/config/units.hpp"
#include "easgate/delegation/kerberos_errors.hpp"
#include "easgate/kerberos/as_exchange.hpp"
#include "easgate/kerberos/kdc_order.hpp"
#include "easgate/kerberos/keytab_login.hpp"
#include "probe.hpp"

namespace easgate::doctor {
namespace {

using kerberos::KdcAddress;

// What asking one KDC for easgate's TGT gave: a transport problem, a krb5 error (the KDC's answer
// caused it once the KDC answered, else the keytab or principal did), or neither (a TGT).
struct KdcAnswer {
    Probe::KerberosOutcome transport;
    krb5_error_code code = 0;
    bool answered = false;
};

// An AS exchange with the keytab against this KDC alone, driven step by step so that the doctor
// does the transport (the keytab's preauthentication takes two rounds with AD).
KdcAnswer login_at(const KdcAddress& kdc, const config::KerberosConfig& kerberos,
                   const kerberos::Krb5Context& context) {
    kerberos::AsExchange login(context, kerberos.principal, kerberos.keytab);
    KdcAnswer answer;
    Probe probe(kerberos.timeout, "");
    if (login.error() == 0) answer.transport.problem = probe.connect(kdc.host, kdc.port);
    std::string reply;
    for (int round = 0; answer.transport.problem.empty() && round < 8; ++round) {
        const auto request = login.next(reply);
        if (!request) break;
        answer.transport = probe.kerberos_exchange(*request, reply);
        answer.answered = answer.transport.problem.empty();
    }
    answer.code = login.error();
    return answer;
}

void check_kdc(const std::string& entry, const config::KerberosConfig& kerberos, Report& report) {
    const std::string check = "KDC " + entry;
    const auto kdc = kerberos::parse_kdc(entry);
    if (!kdc.unsupported.empty()) {
        report.skip(kerberos_area, check, entry + " is not asked here: " + kdc.unsupported);
        return;
    }
    const kerberos::Krb5Context context;
    const auto started = std::chrono::steady_clock::now();
    const auto answer = login_at(kdc, kerberos, context);
    const auto took =
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started);
    const std::string line =
        "the line \"kdc = " + entry + "\" out of " + delegation::service_names(kerberos).krb5_conf;
    if (answer.transport.silent) {
        report.warn(kerberos_area, check, answer.transport.problem,
                    "a KDC that accepts connections and never answers costs 10 s in every KDC exchange "
                    "before krb5 asks the next one; a running easgate notices at the first exchange that "
                    "times out and has krb5 ask it last until it answers, but users new to easgate get "
                    "503s until then: restart the KDC service on that DC, or take " +
                        line + " until it answers");
    } else if (!answer.transport.problem.empty()) {
        report.warn(kerberos_area, check, answer.transport.problem,
                    "krb5 goes on to the next KDC, but this one serves nobody: start the KDC service "
                    "on that DC (port 88 TCP), open the firewall, or take " +
                        line);
    } else if (answer.code != 0 && !answer.answered) {
        report.warn(kerberos_area, check,
                    "easgate could not start its login: " + context.message(answer.code),
                    "this KDC was not asked; fix what the keytab and TGT checks name");
    } else if (answer.code != 0) {
        const auto failure = delegation::explain_kerberos_failure(delegation::KerberosStep::service_login,
                                                                  delegation::service_names(kerberos),
                                                                  answer.code, context.message(answer.code));
        report.warn(kerberos_area, check, "refused easgate's login: " + failure.reason,
                    "when the TGT check passed, another KDC accepts the login and this DC's copy of the "
                    "directory lags (a password or key change not replicated yet): check its "
                    "replication (repadmin /showrepl); otherwise fix what the TGT check names");
    } else {
        report.pass(kerberos_area, check,
                    "issued a TGT to " + kerberos.principal + " in " + config::format_duration(took));
    }
}

}  // namespace

void check_each_kdc(const config::KerberosConfig& kerberos, Report& report) {
    const auto kdcs = kerberos::realm_kdcs(kerberos.realm());
    if (kdcs.empty()) {
        report.skip(kerberos_area, "KDCs of the realm",
                    delegation::service_names(kerberos).krb5_conf + " names no kdc for " + kerberos.realm() +
                        ": krb5 finds the KDCs in DNS (_kerberos._tcp SRV records), which only the TGT check "
                        "covers");
        return;
    }
    for (const auto& kdc : kdcs) check_kdc(kdc, kerberos, report);
}

}  // namespace easgate::doctor
