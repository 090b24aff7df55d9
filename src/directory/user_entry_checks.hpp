#pragma once

#include <optional>
#include <string>

#include "directory_servers.hpp"
#include "easgate/directory/account_checks.hpp"

namespace easgate::directory {

// The reads a user search's hit still needs, on the server that found it: the rest of its ranged
// lists, then Protected Users and directory.require_group. A read that server can't serve now
// (gone, stalled, busy) is noted, so the lookup can be made again on another server, as a failed
// search is, rather than refusing every user for one DC's trouble.
class UserEntryChecks {
public:
    UserEntryChecks(DirectoryServers& servers, LdapConnection& connection,
                    const config::DirectoryConfig& config)
        : servers_(servers), connection_(connection), config_(config) {}

    // The user found in entry with every list read whole, if its groups let it in.
    UserLookup complete(const LdapEntry& entry, FoundUser user);

    // A read failed because of the server, not the user or easgate's rights: another may serve it.
    bool server_unfit() const { return server_unfit_; }

private:
    common::Result<std::optional<bool>> in_protected_users(const DirectoryUser& user);
    common::Result<bool> member_of(const std::string& dn, const std::string& group);
    UserLookup check_groups(FoundUser user);
    // Unavailable, naming what failed on which server; a lost connection is closed.
    common::Failure failed(const std::string& what, const LdapSearchResult& found);

    DirectoryServers& servers_;
    LdapConnection& connection_;
    const config::DirectoryConfig& config_;
    bool server_unfit_ = false;
};

}  // namespace easgate::directory
