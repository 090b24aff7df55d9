#include <openssl/asn1.h>

#include <ctime>

#include "certificate_checks.hpp"
#include "easgate/identity/trust_store.hpp"

namespace easgate::doctor {

std::string quoted_name(const X509_NAME* name) {
    std::string quoted(1, '"');  // piece by piece: GCC 12's -O3 misreports "\"" + name (-Wrestrict)
    quoted += identity::name_text(name);
    quoted += '"';
    return quoted;
}

std::string quoted_subject(X509* certificate) { return quoted_name(X509_get_subject_name(certificate)); }

void report_validity(Report& report, const Labelled& what, X509* certificate, const std::string& remedy) {
    const ASN1_TIME* not_after = X509_get0_notAfter(certificate);
    const std::string until = identity::time_text(not_after);
    if (X509_cmp_current_time(X509_get0_notBefore(certificate)) > 0) {
        report.fail(
            what.area, what.check,
            what.label + " is not valid before " + identity::time_text(X509_get0_notBefore(certificate)),
            "check this machine's clock; if it is right, " + remedy);
        return;
    }
    if (X509_cmp_current_time(not_after) < 0) {
        report.fail(what.area, what.check, what.label + " expired at " + until, remedy);
        return;
    }
    int days = 0;
    int seconds = 0;
    ASN1_TIME_diff(&days, &seconds, nullptr, not_after);
    if (days < renew_within_days) {
        report.warn(what.area, what.check,
                    what.label + " expires in " + std::to_string(days) + " days, at " + until, remedy);
        return;
    }
    report.pass(what.area, what.check, what.label + " is valid until " + until);
}

}  // namespace easgate::doctor
