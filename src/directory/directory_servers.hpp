#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "easgate/common/result.hpp"
#include "easgate/config/config.hpp"
#include "easgate/directory/directory_client.hpp"
#include "ldap_connection.hpp"

namespace easgate::directory {

// directory.uris as one directory: connections kept for reuse, each opened to the first URI that
// connects and binds; a search a server can't serve (gone, stalled, busy) goes to the next one
// within the same lookup; the last time none answered is remembered for /readyz. A server that
// failed rests for server_rest: connections opened meanwhile try it only after the others failed,
// so a hung DC costs directory.timeout once, not once per connection (nginx's fail_timeout).
// Blocking: used by the directory client's pool threads, a connection by one thread at a time.
class DirectoryServers {
public:
    DirectoryServers(const config::DirectoryConfig& config, const LdapBind& bind,
                     DirectoryCounters& counters);

    // A kept connection, or a new closed one (search_any opens it). At most one per pool thread
    // exists.
    std::unique_ptr<LdapConnection> checkout();
    void checkin(std::unique_ptr<LdapConnection> connection);

    // A search for users under base_dn on the connection, (re)opened as needed, on the next server
    // while one can't serve it: what a server answered (success, or its own error such as
    // noSuchObject), or unavailable when none could, naming each server's failure. `what` names the
    // search for that message. avoided: the URIs the lookup has given up on, never asked again;
    // those that fail this search are added.
    common::Result<LdapSearchResult> search_any(LdapConnection& connection, const std::string& filter,
                                                const std::vector<std::string>& attributes, int size_limit,
                                                const std::string& what, std::vector<std::string>& avoided);

    // The entry named dn, matching filter, with a value of attribute, from the first server that
    // has it: a published object (a CRL, maybe large), so its search is given `timeout`, and a server
    // that fails it, runs out of time or lacks the entry (not yet replicated there) is not held
    // against the server (no rest, no outage for /readyz; user searches judge the servers' health):
    // the next one is asked. A failure naming each server's answer otherwise, cause not_published when
    // each server that answered lacked the entry or its value, unavailable when none answered.
    common::Result<LdapEntry> read_any(LdapConnection& connection, const std::string& dn,
                                       const std::string& filter, const std::string& attribute,
                                       std::chrono::milliseconds timeout);

    // On the connection's server, the one entry named dn: one attribute of it (counted as a user
    // search unless it is a membership check: timed only, as match_entry), or whether it matches
    // filter.
    LdapSearchResult read_entry(LdapConnection& connection, const std::string& dn,
                                const std::string& attribute, bool membership = false);
    LdapSearchResult match_entry(LdapConnection& connection, const std::string& dn,
                                 const std::string& filter);

    // The connection's server failed a read after its search (gone, stalled, busy): the connection is
    // closed and the server rests, as when it fails a search, so the lookup made again goes elsewhere.
    void rest(LdapConnection& connection);

    // Every server the lookup asked failed it (why): /readyz says so until a search works again.
    void remember_outage(std::string why);

    // Why the directory can't be relied on: no server answered within outage_memory, nor since.
    std::optional<std::string> not_ready_reason() const;

    static constexpr std::chrono::seconds server_rest{30};

private:
    // Timed for search_seconds.
    LdapSearchResult timed_search(LdapConnection& connection, const std::string& filter,
                                  const std::vector<std::string>& attributes, int size_limit,
                                  const std::string* entry = nullptr,
                                  std::optional<std::chrono::milliseconds> timeout = std::nullopt);
    std::optional<common::Failure> open_any(LdapConnection& connection,
                                            const std::vector<std::string>& avoided);
    // Counted for /metrics, and rested.
    void server_failed(const std::string& uri);
    void server_worked(std::size_t index);
    bool resting(std::size_t index) const;

    const config::DirectoryConfig& config_;
    const LdapBind& bind_;
    DirectoryCounters& counters_;
    mutable std::mutex mutex_;  // guards idle_, the outage and resting_until_
    std::vector<std::unique_ptr<LdapConnection>> idle_;
    std::vector<std::chrono::steady_clock::time_point> resting_until_;  // per directory.uris entry
    std::string outage_;
    std::chrono::steady_clock::time_point outage_at_;
};

}  // namespace easgate::directory
