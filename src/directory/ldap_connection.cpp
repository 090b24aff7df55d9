#include "ldap_connection.hpp"

#include <sasl/sasl.h>
#include <sys/time.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <iterator>
#include <string_view>

#include "easgate/common/text.hpp"
#include "easgate/config/units.hpp"
#include "easgate/kerberos/kdc_watch.hpp"
#include "keytab_credential.hpp"

namespace easgate::directory {
namespace {

struct MessageDeleter {
    void operator()(LDAPMessage* message) const { ldap_msgfree(message); }
};

timeval to_timeval(std::chrono::milliseconds duration) {
    const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(duration);
    return {static_cast<time_t>(seconds.count()),
            static_cast<suseconds_t>(std::chrono::microseconds(duration - seconds).count())};
}

// The SASL interaction callback of the GSSAPI bind. libldap creates the SASL context inside the
// bind (setting LDAP_OPT_X_SASL_GSS_CREDS before it fails: no context yet), and the GSSAPI mechanism
// asks for the authorization identity before its first gss_init_sec_context: so this is the moment
// to hand it easgate's own credential instead of letting it look for a default ccache.
int attach_credential(LDAP* session, unsigned /*flags*/, void* credential, void* prompts) {
    if (ldap_set_option(session, LDAP_OPT_X_SASL_GSS_CREDS, credential) != LDAP_OPT_SUCCESS)
        return LDAP_LOCAL_ERROR;
    for (auto* prompt = static_cast<sasl_interact_t*>(prompts); prompt->id != SASL_CB_LIST_END; ++prompt) {
        // No authorization identity: act as the credential's own principal.
        prompt->result = "";
        prompt->len = 0;
    }
    return LDAP_SUCCESS;
}

}  // namespace

std::string read_password(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::string password{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
    if (!in.is_open()) throw config::ConfigError("directory.bind.password_file: can't read " + path);
    while (!password.empty() && (password.back() == '\n' || password.back() == '\r')) password.pop_back();
    if (password.empty()) throw config::ConfigError("directory.bind.password_file: " + path + " is empty");
    return password;
}

LdapConnection::LdapConnection(const config::DirectoryConfig& config, const LdapBind& bind)
    : config_(config), bind_(bind) {}

LdapStatus LdapConnection::open(const std::string& uri) {
    close();
    uri_ = uri;
    // Connect, TLS handshake and bind share one timeout: a server that accepts but stalls costs no more.
    deadline_.arm(SocketDeadline::Clock::now() + config_.timeout, true);
    LDAP* session = nullptr;
    const int rc = ldap_initialize(&session, uri.c_str());
    if (rc != LDAP_SUCCESS) return {rc, std::string("bad URI: ") + ldap_err2string(rc)};
    session_.reset(session);

    const bool ldaps = uri.starts_with("ldaps://");
    const bool tls_in_effect = ldaps || config_.ldap_tls == config::LdapTls::starttls;
    LdapStatus status = configure(tls_in_effect);
    if (status.ok() && tls_in_effect && !ldaps) status = start_tls();
    if (status.ok()) status = bind();
    if (!status.ok()) close();
    return status;
}

void LdapConnection::close() {
    // The unbind is a courtesy: sent if the socket takes it at once, never waited for.
    deadline_.disarm();
    session_.reset();
}

LdapStatus LdapConnection::start_tls() {
    const auto before = deadline_.traffic();
    LdapStatus status = status_of(ldap_start_tls_s(session_.get(), nullptr, nullptr));
    if (timed_out(status)) return timeout_status("StartTLS", "no answer to StartTLS", before);
    // A failed handshake (the server answered, unlike SERVER_DOWN/TIMEOUT): Debian's libldap
    // (GnuTLS) gives no reason, so name the usual ones.
    if (status.code == LDAP_CONNECT_ERROR) {
        status.message = "StartTLS failed: " + status.message + "; does ca_file (" + config_.ca_file +
                         ") hold the CA that issued the DC's certificate, and is the URI's host name in it?";
    }
    if (status.code == LDAP_SERVER_DOWN) status.message += server_down_hint();
    return status;
}

// libldap says "Can't contact LDAP server" for a connection refused or unreachable and for an LDAPS
// handshake that failed alike (GnuTLS gives no reason): which one it was, and what to check.
std::string LdapConnection::server_down_hint() const {
    if (!deadline_.connected())
        return ": no TCP connection (refused or unreachable: is the DC's LDAP service up, and its port "
               "open from easgate?)";
    if (uri_.starts_with("ldaps://"))
        return ": the TLS handshake failed: does directory.ca_file (" + config_.ca_file +
               ") hold the CA that issued the DC's certificate, and is the URI's host name in it?";
    return "";
}

LdapStatus LdapConnection::bind() {
    gss_cred_id_t credential = GSS_C_NO_CREDENTIAL;
    if (bind_.method == config::DirectoryBind::gssapi) {
        // Kerberos' own failures (the KDC included) are reported as they are, not as an LDAP timeout.
        auto acquired = bind_.credential->acquire(*deadline_.deadline());
        if (acquired.credential == GSS_C_NO_CREDENTIAL)
            return {LDAP_LOCAL_ERROR, std::move(acquired.error), std::move(acquired.cause)};
        if (deadline_.passed()) return kdc_timed_out("Kerberos ticket for easgate");
        credential = acquired.credential;
    }
    const auto before = deadline_.traffic();
    LdapStatus status = use_remaining_time();
    if (status.ok()) status = credential != GSS_C_NO_CREDENTIAL ? bind_gssapi(credential) : bind_simple();
    if (!timed_out(status)) {
        if (status.code == LDAP_SERVER_DOWN) status.message += server_down_hint();
        return status;
    }
    // Connected but nothing sent: the GSSAPI mechanism was still asking the KDC for a service ticket.
    if (credential != GSS_C_NO_CREDENTIAL && deadline_.connected() && deadline_.traffic().sent == before.sent)
        return kdc_timed_out("service ticket for the DC");
    return uri_.starts_with("ldaps://")
               ? timeout_status("the TLS handshake and bind", "no TLS handshake", before)
               : timeout_status("the bind", "no answer to the bind", before);
}

// libldap's own timeouts (each wait for a response, the TCP connect) end at the deadline too.
LdapStatus LdapConnection::use_remaining_time() {
    if (deadline_.passed()) return {LDAP_TIMEOUT, "timed out"};
    const timeval remaining = to_timeval(deadline_.remaining());
    if (ldap_set_option(session_.get(), LDAP_OPT_NETWORK_TIMEOUT, &remaining) != LDAP_OPT_SUCCESS ||
        ldap_set_option(session_.get(), LDAP_OPT_TIMEOUT, &remaining) != LDAP_OPT_SUCCESS) {
        return {LDAP_PARAM_ERROR, "can't set the LDAP timeouts"};
    }
    return {};
}

std::string LdapConnection::within_timeout() const {
    return " within directory.timeout (" + config::format_duration(config_.timeout) + ")";
}

bool LdapConnection::timed_out(const LdapStatus& status) const {
    return !status.ok() && (status.code == LDAP_TIMEOUT || deadline_.passed());
}

// What the operation was waiting for when its time ran out, and the likely reason, for the operator.
// `unanswered` says what was missing if the server sent nothing during the operation.
LdapStatus LdapConnection::timeout_status(std::string_view operation, std::string_view unanswered,
                                          SocketDeadline::Traffic before) const {
    suspect_kdcs();
    const std::string within = within_timeout();
    const auto traffic = deadline_.traffic();
    std::string message;
    if (!deadline_.connected()) {
        message = "no TCP connection" + within + ": is the DC down, or does a firewall drop the packets?";
    } else if (traffic.received == 0) {
        message = std::string(unanswered) + within +
                  ": is something other than a DC (a load balancer without a healthy member?) listening on "
                  "that address?";
    } else if (traffic.received == before.received) {
        message =
            std::string(unanswered) + within + ": has the DC stopped answering (overloaded, half-dead)?";
    } else {
        message = std::string(operation) + " did not complete" + within +
                  ": is the DC overloaded (or, for the GSSAPI bind, the KDC slow)?";
    }
    return {LDAP_TIMEOUT, "timed out: " + message};
}

// A DC that stopped answering LDAP has often stopped answering Kerberos too (both are its LSA
// process): easgate checks its KDCs, so that a hung one is asked last before users wait for it. A
// GSSAPI bind to the next DC waits for that verdict (at most 3 s; not at all once a hung KDC is
// asked last), not for the hung KDC.
void LdapConnection::suspect_kdcs() const {
    if (bind_.method == config::DirectoryBind::gssapi)
        kerberos::KdcWatch::suspect_installed_and_wait();
    else
        kerberos::KdcWatch::suspect_installed();
}

LdapStatus LdapConnection::kdc_timed_out(std::string_view ticket) const {
    suspect_kdcs();
    return {LDAP_TIMEOUT, "timed out: no " + std::string(ticket) + " from the KDC" + within_timeout() +
                              ": is the KDC answering?"};
}

LdapStatus LdapConnection::configure(bool tls_in_effect) {
    const int version = LDAP_VERSION3;
    const timeval timeout = to_timeval(config_.timeout);
    const int demand = LDAP_OPT_X_TLS_DEMAND;
    const int tls_1_2 = LDAP_OPT_X_TLS_PROTOCOL_TLS1_2;
    const int client_context = 0;
    // Inside TLS, AD refuses a second SASL security layer ("Cannot bind using sign/seal on a
    // connection on which TLS or SSL is in effect"); without TLS (ldap_tls: none, GSSAPI only) the
    // GSSAPI layer must sign and seal (56: confidentiality), so nothing travels in clear.
    const ber_len_t no_layer = 0;
    const ber_len_t sealed = 56;
    // AD's LDAP channel binding (LdapEnforceChannelBinding) wants the TLS certificate hash in the bind.
    const int channel_binding = LDAP_OPT_X_SASL_CBINDING_TLS_ENDPOINT;

    struct Option {
        int option;
        const void* value;
        const char* name;
    };
    std::vector<Option> options{
        {LDAP_OPT_PROTOCOL_VERSION, &version, "protocol version"},
        // AD answers with referrals to other domains' DCs; chasing them would rebind anonymously.
        {LDAP_OPT_REFERRALS, LDAP_OPT_OFF, "referrals"},
        {LDAP_OPT_NETWORK_TIMEOUT, &timeout, "network timeout"},
        {LDAP_OPT_TIMEOUT, &timeout, "operation timeout"},
        // Bounds the TLS handshake, which the two timeouts above don't (see SocketDeadline).
        {LDAP_OPT_CONNECT_CB, deadline_.connect_callbacks(), "connection callback"},
        // The Kerberos service name is ldap/<host of the URI>, not whatever reverse DNS says.
        {LDAP_OPT_X_SASL_NOCANON, LDAP_OPT_ON, "SASL no-canonicalize"},
        {LDAP_OPT_X_TLS_REQUIRE_CERT, &demand, "TLS require certificate"},
        {LDAP_OPT_X_TLS_PROTOCOL_MIN, &tls_1_2, "TLS minimum protocol"},
    };
    if (!config_.ca_file.empty())
        options.push_back({LDAP_OPT_X_TLS_CACERTFILE, config_.ca_file.c_str(), "TLS CA file"});
    // Last of the TLS options: builds this session's own TLS context from the ones above.
    options.push_back({LDAP_OPT_X_TLS_NEWCTX, &client_context, "TLS context"});
    if (tls_in_effect) {
        options.push_back({LDAP_OPT_X_SASL_SSF_MAX, &no_layer, "SASL maximum SSF"});
        options.push_back({LDAP_OPT_X_SASL_CBINDING, &channel_binding, "SASL channel binding"});
    } else {
        options.push_back({LDAP_OPT_X_SASL_SSF_MIN, &sealed, "SASL minimum SSF"});
    }
    for (const auto& [option, value, name] : options) {
        if (ldap_set_option(session_.get(), option, value) != LDAP_OPT_SUCCESS) {
            return {LDAP_PARAM_ERROR, std::string("can't set the LDAP option ") + name};
        }
    }
    return {};
}

LdapStatus LdapConnection::bind_gssapi(gss_cred_id_t credential) {
    return status_of(ldap_sasl_interactive_bind_s(session_.get(), nullptr, "GSSAPI", nullptr, nullptr,
                                                  LDAP_SASL_QUIET, attach_credential, credential));
}

LdapStatus LdapConnection::bind_simple() {
    berval password{bind_.password.size(), const_cast<char*>(bind_.password.data())};
    return status_of(ldap_sasl_bind_s(session_.get(), bind_.dn.c_str(), LDAP_SASL_SIMPLE, &password, nullptr,
                                      nullptr, nullptr));
}

LdapSearchResult LdapConnection::search(const std::string& filter, const std::vector<std::string>& attributes,
                                        int size_limit, const std::string* entry,
                                        std::optional<std::chrono::milliseconds> timeout) {
    std::vector<char*> names;
    for (const auto& attribute : attributes) names.push_back(const_cast<char*>(attribute.c_str()));
    names.push_back(nullptr);
    const auto limit = timeout.value_or(config_.timeout);
    deadline_.arm(SocketDeadline::Clock::now() + limit, false);
    const auto before = deadline_.traffic();
    timeval time_limit = to_timeval(limit);
    LDAPMessage* raw = nullptr;
    const int rc =
        ldap_search_ext_s(session_.get(), entry != nullptr ? entry->c_str() : config_.base_dn.c_str(),
                          entry != nullptr ? LDAP_SCOPE_BASE : LDAP_SCOPE_SUBTREE, filter.c_str(),
                          names.data(), 0, nullptr, nullptr, &time_limit, size_limit, &raw);
    const std::unique_ptr<LDAPMessage, MessageDeleter> message(raw);

    LdapSearchResult result;
    result.size_limit_exceeded = rc == LDAP_SIZELIMIT_EXCEEDED;
    if (rc != LDAP_SUCCESS && !result.size_limit_exceeded) {
        result.status = status_of(rc);
        if (timed_out(result.status))
            result.status = timeout_status("the search", "no answer to the search", before);
        return result;
    }
    for (LDAPMessage* entry = ldap_first_entry(session_.get(), raw); entry != nullptr;
         entry = ldap_next_entry(session_.get(), entry)) {
        LdapEntry& values = result.entries.emplace_back();
        // Each attribute as the server names it: a requested one under the name it was asked by, one
        // with options as it came (AD's memberOf;range=0-1499 when there are more values than it
        // hands out at once).
        BerElement* position = nullptr;
        for (char* name = ldap_first_attribute(session_.get(), entry, &position); name != nullptr;
             name = ldap_next_attribute(session_.get(), entry, position)) {
            const std::string returned(name);
            ldap_memfree(name);
            berval** found = ldap_get_values_len(session_.get(), entry, returned.c_str());
            if (found == nullptr) continue;
            const auto asked =
                std::find_if(attributes.begin(), attributes.end(), [&](const std::string& attribute) {
                    return common::equals_ignoring_case(attribute, returned);
                });
            auto& list = values[asked != attributes.end() ? *asked : returned];
            for (berval** value = found; *value != nullptr; ++value)
                list.emplace_back((*value)->bv_val, (*value)->bv_len);
            ldap_value_free_len(found);
        }
        if (position != nullptr) ber_free(position, 0);
    }
    return result;
}

LdapStatus LdapConnection::status_of(int code) const {
    if (code == LDAP_SUCCESS) return {};
    std::string message = ldap_err2string(code);
    char* diagnostic = nullptr;
    if (ldap_get_option(session_.get(), LDAP_OPT_DIAGNOSTIC_MESSAGE, &diagnostic) == LDAP_OPT_SUCCESS &&
        diagnostic != nullptr) {
        // "(unknown error code)" is libldap's placeholder, not a diagnostic.
        if (*diagnostic != '\0' && std::string_view(diagnostic) != "(unknown error code)") {
            message += std::string(" (") + diagnostic + ")";
        }
        ldap_memfree(diagnostic);
    }
    return {code, message};
}

}  // namespace easgate::directory
