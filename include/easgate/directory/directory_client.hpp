#pragma once

#include <atomic>
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "easgate/common/histogram.hpp"
#include "easgate/common/result.hpp"
#include "easgate/config/config.hpp"

namespace easgate::directory {

// A user as Active Directory knows them.
struct DirectoryUser {
    std::string upn;               // userPrincipalName as stored (canonical form)
    std::string sam_account_name;  // e.g. "alice": with the realm, the name to impersonate
    std::string distinguished_name;
    std::uint32_t user_account_control = 0;
    std::vector<std::string> member_of;  // direct group DNs, for the policy stage
    std::string object_sid;              // "S-1-5-21-…", empty if the directory did not say
    // Exchange's per-user ActiveSync device lists (msExchMobileAllowedDeviceIDs,
    // msExchMobileBlockedDeviceIDs), for policy.use_exchange_device_lists.
    std::vector<std::string> exchange_allowed_device_ids;
    std::vector<std::string> exchange_blocked_device_ids;
    std::string mail;  // the mail attribute, "" without one: a policy's users term may name it
    // whenCreated, when the directory gave it: a weakly mapped certificate older than the account
    // is refused (KB5014754).
    std::optional<std::chrono::system_clock::time_point> created;
};

// A user found, as the cache holds it and every request that found them shares it: never changed
// once found, so a request keeps a reference, not a copy of the group and device lists.
using FoundUser = std::shared_ptr<const DirectoryUser>;

// The user, enabled and delegable; or why not, the reason saying what happened and the remedy:
// 403 with cause not_found, ambiguous (more than one account has the UPN), disabled
// (userAccountControl ACCOUNTDISABLE 0x2) or not_delegable (NOT_DELEGATED 0x100000, "sensitive and
// cannot be delegated"); 503 with cause unavailable when no directory server answered, an
// infrastructure failure and not the user's.
using UserLookup = common::Result<FoundUser>;

// One way to find a user's account: a condition on it for the LDAP filter, and the attribute and
// value it looks for, as the log names them.
struct AccountSearch {
    std::string condition;  // an LDAP filter, escaped: "(userPrincipalName=alice@example.test)"
    std::string attribute;  // "userPrincipalName"
    std::string value;      // "alice@example.test"

    // attribute=value, the value escaped for the filter.
    static AccountSearch by_attribute(std::string attribute, std::string value);
};

// What a failed keytab login means and what to do (cause, reason with the remedy), from krb5's error
// code and message.
using LoginExplainer = std::function<common::Failure(std::int32_t code, std::string_view krb5_message)>;

// Counted by the client itself, so tests and /metrics can see how often the directory was asked.
struct DirectoryCounters {
    explicit DirectoryCounters(std::vector<std::string> server_uris = {})
        : uris(std::move(server_uris)), server_failures(uris.size()) {}

    // User searches sent to a directory server (a user found also costs one membership search on
    // their own entry for Protected Users, and one for directory.require_group when set).
    std::atomic<std::uint64_t> searches{0};
    std::atomic<std::uint64_t> cache_hits{0};
    std::atomic<std::uint64_t> shared_lookups{0};      // joined a search already in flight for the same UPN
    std::atomic<std::uint64_t> connections_opened{0};  // connections opened and bound, reconnects included
    std::atomic<std::uint64_t> queue_full{
        0};  // answered unavailable at once: max_queued_lookups were waiting
    // How long directory servers took over the searches sent to them (user and group searches).
    common::Histogram search_seconds{common::backend_seconds_buckets};
    // Per directory.uris entry, in that order: connections, binds and searches that failed on the
    // server (easgate went on to the next), so that a DC failing while another serves is seen.
    const std::vector<std::string> uris;
    std::vector<std::atomic<std::uint64_t>> server_failures;
};

// Finds users by UPN in Active Directory. Never blocks the caller's thread: LDAP work runs on the
// client's own small pool (bounded by max_concurrent) behind a queue bounded by max_queued_lookups
// (a lookup finding it full is unavailable at once), connections are reused and re-opened on
// failure, trying the configured URIs in order, each within timeout. Results are cached (cache_ttl,
// negative_cache_ttl); unavailable is not. Every lookup completes within timeout × (2 × URIs + 1)
// (with GSSAPI, 3 s per URI more: the KDC watch's verdict after a timeout), even if its worker is
// still stuck (in a KDC exchange, which krb5 bounds only by its own retries).
class DirectoryClient {
public:
    // kerberos is needed for the GSSAPI bind (easgate's keytab and principal); may be null for simple.
    // Throws config::ConfigError when the configuration can't work (e.g. unreadable password_file).
    // explain_login words a failure of easgate's own Kerberos login for the GSSAPI bind (a stale
    // keytab, no KDC, clock skew), as the delegation stage does its own; without one, krb5's words.
    DirectoryClient(const config::DirectoryConfig& directory, const config::KerberosConfig* kerberos,
                    LoginExplainer explain_login = {});
    ~DirectoryClient();
    DirectoryClient(const DirectoryClient&) = delete;
    DirectoryClient& operator=(const DirectoryClient&) = delete;

    // Completes on the awaiting coroutine's executor. Cancellable through the coroutine's
    // cancellation slot (e.g. under awaitable_operators' || with a timer): it then completes at once
    // as unavailable ("cancelled: ..."); the search goes on and its result is still cached.
    boost::asio::awaitable<UserLookup> find(AccountSearch account);
    // find's answer when it needs no directory server (cached, or nothing to search by); nullopt
    // when a search must be sent.
    std::optional<UserLookup> find_now(const AccountSearch& account);

    // The first value of the attribute an ldap:/// URL names (parse_published_object): AD CS's CRLs,
    // published in the configuration partition. On the pool, from the first server that has it,
    // the read itself given timeout on each (DirectoryServers::read_any: no server is judged by it);
    // reads of one URL at once share one; never cached. A failure otherwise (503): cause unusable_url,
    // not_published (the entry or its value missing; the reason names the remedy) or unavailable.
    boost::asio::awaitable<common::Result<std::string>> read_published(std::string url,
                                                                       std::chrono::milliseconds timeout);

    const DirectoryCounters& counters() const;
    // Lookups (found or not) held in the cache now, expired ones included until they are replaced.
    std::size_t cached_lookups() const;
    // Drops every cached answer (a reload): an account disabled since is refused at its next request.
    void forget_lookups();

    // At exit, once the event loops have stopped: every lookup still waiting is answered unavailable
    // and no queued search runs. Their coroutines hold this client and it holds them (its searches'
    // waiters): so answered, they are destroyed with the loops, and the client ends, joining its
    // threads, while the process stands, not with a thread waking in the middle of the exit.
    void stop_waiting();

    // Why the directory can't be relied on now: no server answered within the last
    // outage_memory and none has since. nullopt otherwise, before any lookup too (/readyz).
    std::optional<std::string> not_ready_reason() const;
    static constexpr std::chrono::seconds outage_memory{30};

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

// RFC 4515 escaping of a value placed in an LDAP search filter: * ( ) \ NUL and non-ASCII bytes.
std::string escape_filter_value(std::string_view value);

}  // namespace easgate::directory
