#pragma once

// One bound LDAP session for the checks that read Active Directory itself (keys, SPNs, delegation
// settings), authenticated as `easgate run` would be: directory.bind with kerberos.keytab.

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "directory/keytab_credential.hpp"
#include "directory/ldap_connection.hpp"
#include "easgate/config/config.hpp"

namespace easgate::doctor {

class DirectorySession {
public:
    // Throws config::ConfigError when the bind can't be set up (unreadable password_file).
    DirectorySession(const config::DirectoryConfig& directory, const config::KerberosConfig* kerberos);

    // Connects, TLS and binds to this URI; on failure, what libldap and the KDC said.
    directory::LdapStatus open(const std::string& uri);
    // The configured URIs in order until one binds; the last failure when none does.
    directory::LdapStatus open_any();

    // Domain-wide under base_dn (no size limit beyond the server's), or the named entry only.
    directory::LdapSearchResult search(const std::string& filter, const std::vector<std::string>& attributes,
                                       const std::string* entry = nullptr);
    // Subtree under base, at most size_limit entries (0: the server's limit).
    directory::LdapSearchResult search_under(std::string base, const std::string& filter,
                                             const std::vector<std::string>& attributes, int size_limit);
    // Subtree under the domain base_dn is in (its DC= part): base_dn may be an OU of users, while
    // SPNs and easgate's computer account may be anywhere in the domain.
    directory::LdapSearchResult search_domain(const std::string& filter,
                                              const std::vector<std::string>& attributes);
    const std::string& domain_dn() const { return domain_dn_; }
    // The account whose sAMAccountName is given, e.g. "EASGATE$", anywhere in the domain; nullopt
    // when none, error when the search failed.
    std::optional<directory::LdapEntry> account(const std::string& sam_account_name, std::string& error,
                                                const std::vector<std::string>& attributes);
    const std::string& uri() const { return connection_.uri(); }
    const std::string& base_dn() const { return directory_.base_dn; }

private:
    config::DirectoryConfig directory_;
    std::string domain_dn_;
    std::unique_ptr<directory::KeytabCredential> credential_;
    directory::LdapBind bind_;
    directory::LdapConnection connection_;
};

// "EASGATE$" for "EASGATE$@EXAMPLE.TEST": the sAMAccountName of a principal.
std::string account_name(const std::string& principal);

// The first value of an attribute, or "" when the entry lacks it.
std::string first_value(const directory::LdapEntry& entry, const std::string& attribute);

}  // namespace easgate::doctor
