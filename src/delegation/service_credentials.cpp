#include "service_credentials.hpp"

#include <gssapi/gssapi_ext.h>
#include <gssapi/gssapi_krb5.h>
#include <krb5/krb5.h>

#include <atomic>
#include <string>

namespace easgate::delegation {
namespace {

// A krb5 library context for one short task (krb5 contexts must not be shared between threads).
class Krb5Context {
public:
    Krb5Context() { krb5_init_context(&context_); }
    Krb5Context(const Krb5Context&) = delete;
    Krb5Context& operator=(const Krb5Context&) = delete;
    ~Krb5Context() {
        if (context_ != nullptr) krb5_free_context(context_);
    }
    krb5_context get() const { return context_; }
    std::string message(krb5_error_code code) const {
        const char* text = krb5_get_error_message(context_, code);
        std::string result = text;
        krb5_free_error_message(context_, text);
        return result;
    }

private:
    krb5_context context_ = nullptr;
};

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

// A MEMORY ccache of this process, destroyed with its owner so no ticket outlives the login.
class MemoryCcache {
public:
    MemoryCcache() : name_("MEMORY:easgate-" + std::to_string(next_id_++)) {}
    MemoryCcache(const MemoryCcache&) = delete;
    MemoryCcache& operator=(const MemoryCcache&) = delete;
    ~MemoryCcache() {
        const Krb5Context context;
        krb5_ccache ccache = nullptr;
        if (context.get() != nullptr && krb5_cc_resolve(context.get(), name_.c_str(), &ccache) == 0) {
            krb5_cc_destroy(context.get(), ccache);
        }
    }
    const std::string& name() const { return name_; }

private:
    static inline std::atomic<unsigned long> next_id_{0};
    std::string name_;
};

}  // namespace

struct ServiceCredentials::Login {
    MemoryCcache ccache;
    GssCred credential;  // declared after ccache: released before the ccache is destroyed
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

std::string ServiceCredentials::explain(const GssStatus& status) const {
    const auto code = static_cast<krb5_error_code>(status.minor);
    const std::string detail =
        explain_kerberos_failure(KerberosStep::service_login, names_, code, status.message()).detail;
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
            .detail;
    }
    return "logging in to the KDC as " + kerberos_.principal;
}

ServiceCredentials::~ServiceCredentials() = default;

ServiceCredentials::Lease::Lease(ServiceCredentials& owner, std::unique_ptr<Login> login, GssStatus status)
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
    GssStatus status;
    if (!login || !login->credential || Clock::now() >= login->refresh_at) {
        login = std::make_unique<Login>();  // a fresh ccache: the old TGT goes with the old login
        status = log_in(*login);
    }
    return Lease(*this, std::move(login), status);
}

GssStatus ServiceCredentials::log_in(Login& login) {
    {
        std::lock_guard lock(mutex_);
        if (!first_attempt_) first_attempt_ = Clock::now();
    }
    GssStatus status;
    const GssName name = import_principal(kerberos_.principal, status);
    if (status.failed()) return status;
    // client_keytab makes MIT get the TGT itself (AS exchange) into the given ccache.
    gss_key_value_element_desc elements[] = {{"client_keytab", kerberos_.keytab.c_str()},
                                             {"ccache", login.ccache.name().c_str()}};
    const gss_key_value_set_desc store{2, elements};
    gss_cred_id_t credential = GSS_C_NO_CREDENTIAL;
    OM_uint32 lifetime = 0;
    status.major = gss_acquire_cred_from(&status.minor, name.get(), GSS_C_INDEFINITE, gss_mech_set_krb5,
                                         GSS_C_INITIATE, &store, &credential, nullptr, &lifetime);
    login.credential.reset(credential);
    login.refresh_at = refresh_due(Clock::now(), lifetime, kerberos_.ticket_refresh_before);
    if (!status.failed()) {
        logged_in_ = true;
        return status;
    }
    const std::string failure = explain(status);
    std::lock_guard lock(mutex_);
    last_failure_ = failure;
    return status;
}

}  // namespace easgate::delegation
