#include "directory_session.hpp"

#include <ldap.h>

#include <utility>

#include "easgate/directory/account_checks.hpp"
#include "easgate/directory/directory_client.hpp"

namespace easgate::doctor {
DirectorySession::DirectorySession(const config::DirectoryConfig& directory,
                                   const config::KerberosConfig* kerberos)
    : directory_(directory),
      domain_dn_(directory::domain_dn(directory.base_dn)),
      connection_(directory_, bind_) {
    bind_.method = directory_.bind;
    if (directory_.bind == config::DirectoryBind::simple) {
        bind_.dn = directory_.bind_dn;
        bind_.password = directory::read_password(directory_.password_file);
    } else if (kerberos != nullptr) {
        credential_ = std::make_unique<directory::KeytabCredential>(kerberos->keytab, kerberos->principal);
        bind_.credential = credential_.get();
    } else {
        throw config::ConfigError(
            "directory: the GSSAPI bind needs the kerberos: section (keytab, principal)");
    }
}

directory::LdapStatus DirectorySession::open(const std::string& uri) { return connection_.open(uri); }

directory::LdapStatus DirectorySession::open_any() {
    directory::LdapStatus status{LDAP_PARAM_ERROR, "directory.uris is empty"};
    for (const auto& uri : directory_.uris) {
        status = connection_.open(uri);
        if (status.ok()) break;
        status.message = uri + ": " + status.message;
    }
    return status;
}

directory::LdapSearchResult DirectorySession::search(const std::string& filter,
                                                     const std::vector<std::string>& attributes,
                                                     const std::string* entry) {
    return connection_.search(filter, attributes, 0, entry);
}

// The connection searches under its configuration's base_dn, which is this session's own copy. base is
// a copy: it may be that base_dn.
directory::LdapSearchResult DirectorySession::search_under(std::string base, const std::string& filter,
                                                           const std::vector<std::string>& attributes,
                                                           int size_limit) {
    const std::string domain = std::exchange(directory_.base_dn, std::move(base));
    auto found = connection_.search(filter, attributes, size_limit);
    directory_.base_dn = domain;
    return found;
}

directory::LdapSearchResult DirectorySession::search_domain(const std::string& filter,
                                                            const std::vector<std::string>& attributes) {
    return search_under(domain_dn_, filter, attributes, 0);
}

std::optional<directory::LdapEntry> DirectorySession::account(const std::string& sam_account_name,
                                                              std::string& error,
                                                              const std::vector<std::string>& attributes) {
    const auto found = search_domain(
        "(sAMAccountName=" + directory::escape_filter_value(sam_account_name) + ")", attributes);
    if (!found.status.ok()) {
        error = "the search for " + sam_account_name + " on " + uri() + " failed: " + found.status.message;
        return std::nullopt;
    }
    if (found.entries.empty()) return std::nullopt;
    return found.entries.front();
}

std::string account_name(const std::string& principal) { return principal.substr(0, principal.rfind('@')); }

std::string first_value(const directory::LdapEntry& entry, const std::string& attribute) {
    const auto values = entry.find(attribute);
    return values == entry.end() || values->second.empty() ? std::string() : values->second.front();
}

}  // namespace easgate::doctor
