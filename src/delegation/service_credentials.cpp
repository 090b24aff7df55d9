#include "service_credentials.hpp"

#include <krb5/krb5.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <string>

#include "easgate/kerberos/keytab_login.hpp"

namespace easgate::delegation {
namespace {

using kerberos::Krb5Context;

// Whether the keytab holds any key for the principal, read locally: MIT would otherwise quietly fall
// back to an (empty) ccache and report "No credentials cache found".
krb5_error_code find_key(const Krb5Context& context, const config::KerberosConfig& kerberos) {
    if (context.get() == nullptr) return KRB5_CONFIG_BADFORMAT;
    krb5_keytab keytab = nullptr;
    if (const krb5_error_code code = krb5_kt_resolve(context.get(), kerberos.keytab.c_str(), &keytab))
        return code;
    krb5_principal principal = nullptr;
    krb5_error_code code = krb5_parse_name(context.get(), kerberos.principal.c_str(), &principal);
    if (code == 0) {
        krb5_keytab_entry entry;
        code = krb5_kt_get_entry(context.get(), keytab, principal, 0, 0, &entry);
        if (code == 0) krb5_free_keytab_entry_contents(context.get(), &entry);
        krb5_free_principal(context.get(), principal);
    }
    krb5_kt_close(context.get(), keytab);
    return code;
}

// MIT corrects easgate's requests to the KDC for the KDC's clock, so a host clock off by minutes
// still logs in and delegates; Exchange does no such thing for the tokens, and refuses them all
// (KRB_AP_ERR_SKEW) past Kerberos's tolerance. Said before the first phone is refused, once per
// change of verdict: the logins of a start come together.
void warn_of_kdc_clock(long kdc_ahead) {
    static std::atomic<kerberos::KdcClock> last{kerberos::KdcClock::agrees};
    const auto verdict = kerberos::kdc_clock_verdict(kdc_ahead);
    if (last.exchange(verdict) == verdict || verdict == kerberos::KdcClock::agrees) return;
    if (verdict == kerberos::KdcClock::refused) {
        spdlog::warn(
            "delegation: {} (the TGT's authtime): Kerberos corrects easgate's own requests to the KDC for "
            "it, "
            "but Exchange, whose clock follows the domain's, refuses tokens from a clock more than 5 minutes "
            "off its own (AD's default tolerance; KRB_AP_ERR_SKEW): devices will get 401. Remedy: {}",
            kerberos::clock_against_kdc(kdc_ahead), kerberos::kdc_clock_remedy);
    } else {
        spdlog::warn(
            "delegation: {} (the TGT's authtime): tokens are still accepted, but past 5 minutes Exchange "
            "refuses them. Remedy: {}",
            kerberos::clock_against_kdc(kdc_ahead), kerberos::kdc_clock_remedy);
    }
}

}  // namespace

struct ServiceCredentials::Login {
    kerberos::MemoryCcache ccache;
    kerberos::GssCred credential;  // declared after ccache: released before the ccache is destroyed
    Clock::time_point refresh_at;
};

ServiceCredentials::ServiceCredentials(const config::KerberosConfig& kerberos, DelegationAttempt names)
    : kerberos_(kerberos), names_(std::move(names)) {
    const Krb5Context context;
    if (const krb5_error_code code = find_key(context, kerberos_)) {
        throw config::ConfigError(
            explain_keytab_problem(kerberos_.keytab, kerberos_.principal, code, context.message(code)));
    }
}

std::string ServiceCredentials::explain(const kerberos::GssStatus& status) const {
    const auto code = static_cast<krb5_error_code>(status.minor);
    const std::string detail =
        explain_kerberos_failure(KerberosStep::service_login, names_, code, status.message()).reason;
    if (!is_keytab_or_account_problem(code)) return detail;
    const bool account = code == KRB5KDC_ERR_C_PRINCIPAL_UNKNOWN || code == KRB5KDC_ERR_CLIENT_REVOKED;
    return (account ? "kerberos.principal: " : "kerberos.keytab: ") + detail;
}

std::optional<std::string> ServiceCredentials::not_ready_reason() const {
    if (logged_in_) return std::nullopt;
    std::lock_guard lock(mutex_);
    if (!last_failure_.empty()) return last_failure_;
    if (first_attempt_ && Clock::now() - *first_attempt_ >= kerberos_.timeout) {
        return explain_kdc_timeout(names_, step_description(KerberosStep::service_login, names_),
                                   kerberos_.timeout)
            .reason;
    }
    return "logging in to the KDC as " + kerberos_.principal;
}

bool ServiceCredentials::logging_in() const {
    if (logged_in_) return false;
    std::lock_guard lock(mutex_);
    return last_failure_.empty() && (!first_attempt_ || Clock::now() - *first_attempt_ < kerberos_.timeout);
}

ServiceCredentials::~ServiceCredentials() = default;

ServiceCredentials::Lease::Lease(ServiceCredentials& owner, std::unique_ptr<Login> login,
                                 kerberos::GssStatus status)
    : owner_(&owner), login_(std::move(login)), status_(status) {}

ServiceCredentials::Lease::~Lease() {
    if (!login_) return;
    std::lock_guard lock(owner_->mutex_);
    owner_->idle_.push_back(std::move(login_));
}

gss_cred_id_t ServiceCredentials::Lease::credential() const {
    return status_.failed() ? GSS_C_NO_CREDENTIAL : login_->credential.get();
}

ServiceCredentials::Lease ServiceCredentials::lease() {
    std::unique_ptr<Login> login;
    {
        std::lock_guard lock(mutex_);
        if (!idle_.empty()) {
            login = std::move(idle_.back());
            idle_.pop_back();
        }
    }
    kerberos::GssStatus status;
    if (!login || !login->credential || Clock::now() >= login->refresh_at) {
        login = std::make_unique<Login>();  // a fresh ccache: the old TGT goes with the old login
        status = log_in(*login);
    }
    return Lease(*this, std::move(login), status);
}

kerberos::GssStatus ServiceCredentials::log_in(Login& login) {
    {
        std::lock_guard lock(mutex_);
        if (!first_attempt_) first_attempt_ = Clock::now();
    }
    auto fresh = kerberos::log_in_from_keytab(kerberos_.keytab, kerberos_.principal, login.ccache);
    const kerberos::GssStatus status = fresh.status;
    login.credential = std::move(fresh.credential);
    login.refresh_at = refresh_due(Clock::now(), fresh.lifetime, kerberos_.ticket_refresh_before);
    if (!status.failed()) {
        logged_in_ = true;
        if (fresh.kdc_clock_ahead) warn_of_kdc_clock(*fresh.kdc_clock_ahead);
        return status;
    }
    const std::string failure = explain(status);
    std::lock_guard lock(mutex_);
    last_failure_ = failure;
    return status;
}

}  // namespace easgate::delegation
