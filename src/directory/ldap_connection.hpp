#pragma once

#include <gssapi/gssapi.h>
#include <ldap.h>

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "easgate/config/config.hpp"
#include "easgate/directory/account_checks.hpp"
#include "socket_deadline.hpp"

namespace easgate::directory {

class KeytabCredential;

// directory.bind.password_file's password, without a trailing newline; throws config::ConfigError
// when the file can't be read or is empty.
std::string read_password(const std::string& path);

// What a libldap call returned, with the server's diagnostic message, for the operator.
struct LdapStatus {
    LdapStatus() = default;
    LdapStatus(int code, std::string message, std::string own_failure = {})
        : code(code), message(std::move(message)), own_failure(std::move(own_failure)) {}

    int code = LDAP_SUCCESS;
    std::string message;
    // Set when easgate's own credentials failed before the server was asked (the GSSAPI bind's
    // keytab login): no server is at fault, and every other would fail the same. Its /metrics cause.
    std::string own_failure;

    bool ok() const { return code == LDAP_SUCCESS; }
    // The session is unusable: open a new one (possibly to the next server).
    bool connection_lost() const {
        return code == LDAP_SERVER_DOWN || code == LDAP_TIMEOUT || code == LDAP_CONNECT_ERROR;
    }
    // This server can't serve the search now (gone, stalled past directory.timeout, or saying it is
    // busy or unavailable, as a DC does while it starts, stops or is overloaded): another may.
    bool server_unfit() const { return connection_lost() || code == LDAP_BUSY || code == LDAP_UNAVAILABLE; }
};

struct LdapSearchResult {
    LdapStatus status;
    std::vector<LdapEntry> entries;  // entries only: referrals and continuations are dropped
    bool size_limit_exceeded = false;
};

// How connections authenticate; shared, read-only, by every connection of a client.
struct LdapBind {
    config::DirectoryBind method = config::DirectoryBind::gssapi;
    std::string dn;                          // simple
    std::string password;                    // simple
    KeytabCredential* credential = nullptr;  // gssapi
};

// One session with one directory server: connect, TLS, bind, then searches under base_dn.
// Blocking, but each call ends within config.timeout (connect, TLS handshake and bind together;
// each search); used by one thread at a time.
class LdapConnection {
public:
    LdapConnection(const config::DirectoryConfig& config, const LdapBind& bind);

    // Closes any current session first. On failure the connection stays closed.
    LdapStatus open(const std::string& uri);
    bool is_open() const { return session_ != nullptr; }
    void close();
    const std::string& uri() const { return uri_; }

    // Under base_dn, or only the entry named by `entry` when given (a base-scope search); within
    // timeout, directory.timeout when none is given.
    LdapSearchResult search(const std::string& filter, const std::vector<std::string>& attributes,
                            int size_limit, const std::string* entry = nullptr,
                            std::optional<std::chrono::milliseconds> timeout = std::nullopt);

private:
    struct SessionDeleter {
        void operator()(LDAP* session) const { ldap_unbind_ext_s(session, nullptr, nullptr); }
    };

    LdapStatus configure(bool tls_in_effect);
    LdapStatus start_tls();
    LdapStatus bind();
    LdapStatus bind_gssapi(gss_cred_id_t credential);
    LdapStatus bind_simple();
    void suspect_kdcs() const;
    LdapStatus use_remaining_time();
    bool timed_out(const LdapStatus& status) const;
    std::string within_timeout() const;
    std::string server_down_hint() const;
    LdapStatus timeout_status(std::string_view operation, std::string_view unanswered,
                              SocketDeadline::Traffic before) const;
    LdapStatus kdc_timed_out(std::string_view ticket) const;
    LdapStatus status_of(int code) const;

    const config::DirectoryConfig& config_;
    const LdapBind& bind_;
    std::string uri_;
    SocketDeadline deadline_;  // before session_: the session's sockets use it until they close
    std::unique_ptr<LDAP, SessionDeleter> session_;
};

}  // namespace easgate::directory
