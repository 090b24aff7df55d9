#include "directory_servers.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <utility>

namespace easgate::directory {

DirectoryServers::DirectoryServers(const config::DirectoryConfig& config, const LdapBind& bind,
                                   DirectoryCounters& counters)
    : config_(config), bind_(bind), counters_(counters), resting_until_(config.uris.size()) {}

std::unique_ptr<LdapConnection> DirectoryServers::checkout() {
    std::lock_guard lock(mutex_);
    if (idle_.empty()) return std::make_unique<LdapConnection>(config_, bind_);
    auto connection = std::move(idle_.back());
    idle_.pop_back();
    return connection;
}

void DirectoryServers::checkin(std::unique_ptr<LdapConnection> connection) {
    std::lock_guard lock(mutex_);
    idle_.push_back(std::move(connection));
}

common::Result<LdapSearchResult> DirectoryServers::search_any(LdapConnection& connection,
                                                              const std::string& filter,
                                                              const std::vector<std::string>& attributes,
                                                              int size_limit, const std::string& what,
                                                              std::vector<std::string>& avoided) {
    std::string failures;
    for (bool reused = connection.is_open();; reused = false) {
        if (!connection.is_open()) {
            if (auto failure = open_any(connection, avoided)) {
                if (!failures.empty()) failure->reason = failures + "; " + failure->reason;
                remember_outage(failure->reason);
                return std::move(*failure);
            }
        }
        ++counters_.searches;
        auto search = timed_search(connection, filter, attributes, size_limit);
        if (!search.status.server_unfit()) {
            if (search.status.ok()) remember_outage({});
            return search;
        }
        // The next server, if there is one. A kept connection the DC closed while it was idle
        // (no timeout, no busy answer) is normal: then the same server is tried again, once.
        const std::string uri = connection.uri();
        connection.close();
        failures += (failures.empty() ? "" : "; ") + uri + ": " + search.status.message;
        const bool dropped_while_idle =
            reused && search.status.code != LDAP_TIMEOUT && search.status.connection_lost();
        if (!dropped_while_idle) {
            avoided.push_back(uri);
            server_failed(uri);
        }
        if (avoided.size() >= config_.uris.size()) break;
        if (!dropped_while_idle)
            spdlog::warn("directory: the search on {} failed ({}); trying the next server", uri,
                         search.status.message);
    }
    std::string why = "the search for " + what + " failed on every directory server: " + failures;
    remember_outage(why);
    return common::Failure::unavailable(std::move(why)).because("unavailable");
}

common::Result<LdapEntry> DirectoryServers::read_any(LdapConnection& connection, const std::string& dn,
                                                     const std::string& filter, const std::string& attribute,
                                                     std::chrono::milliseconds timeout) {
    std::vector<std::string> avoided;  // servers asked in this read
    std::string answers;
    bool answered = false;  // a server answered, without the entry or its value
    for (bool reused = connection.is_open(); avoided.size() < config_.uris.size(); reused = false) {
        if (!connection.is_open()) {
            if (auto failure = open_any(connection, avoided)) {
                answers += (answers.empty() ? "" : "; ") + failure->reason;
                break;
            }
        }
        ++counters_.searches;
        auto search = timed_search(connection, filter, {attribute}, 1, &dn, timeout);
        if (search.status.ok() && !search.entries.empty()) {
            for (auto& [name, values] : search.entries.front())
                if (!values.empty() && !values.front().empty()) return std::move(search.entries.front());
        }
        const std::string uri = connection.uri();
        connection.close();  // the next server is asked on a connection of its own
        // A kept connection the DC closed while it was idle: the same server again, once.
        if (reused && search.status.code != LDAP_TIMEOUT && search.status.connection_lost()) continue;
        avoided.push_back(uri);
        answered = answered || search.status.ok() || search.status.code == LDAP_NO_SUCH_OBJECT;
        answers += (answers.empty() ? "" : "; ") + uri + ": " +
                   (search.status.code == LDAP_NO_SUCH_OBJECT      ? "no such entry"
                    : search.status.ok() && search.entries.empty() ? "the entry does not match " + filter
                    : search.status.ok()                           ? "the entry has no " + attribute
                                                                   : search.status.message);
    }
    auto failure = common::Failure::unavailable(std::move(answers));
    return answered ? std::move(failure).because("not_published") : std::move(failure).because("unavailable");
}

LdapSearchResult DirectoryServers::read_entry(LdapConnection& connection, const std::string& dn,
                                              const std::string& attribute, bool membership) {
    if (!membership) ++counters_.searches;
    return timed_search(connection, "(objectClass=*)", {attribute}, 1, &dn);
}

LdapSearchResult DirectoryServers::match_entry(LdapConnection& connection, const std::string& dn,
                                               const std::string& filter) {
    return timed_search(connection, filter, {"1.1"}, 1, &dn);
}

void DirectoryServers::rest(LdapConnection& connection) {
    const std::string uri = connection.uri();
    connection.close();
    server_failed(uri);
}

LdapSearchResult DirectoryServers::timed_search(LdapConnection& connection, const std::string& filter,
                                                const std::vector<std::string>& attributes, int size_limit,
                                                const std::string* entry,
                                                std::optional<std::chrono::milliseconds> timeout) {
    const auto asked = std::chrono::steady_clock::now();
    auto search = connection.search(filter, attributes, size_limit, entry, timeout);
    counters_.search_seconds.observe(std::chrono::steady_clock::now() - asked);
    return search;
}

// The URIs in order (but those avoided) until one connects and binds, those resting after the
// others: a server that may be back beats a refusal. The failures, named, when none does.
std::optional<common::Failure> DirectoryServers::open_any(LdapConnection& connection,
                                                          const std::vector<std::string>& avoided) {
    std::string failures;
    // As they were before this attempt: a server failing in it is not tried twice.
    std::vector<bool> rested(config_.uris.size());
    for (std::size_t i = 0; i < rested.size(); ++i) rested[i] = resting(i);
    for (const bool rested_ones : {false, true}) {
        for (std::size_t i = 0; i < config_.uris.size(); ++i) {
            const auto& uri = config_.uris[i];
            if (rested[i] != rested_ones || std::find(avoided.begin(), avoided.end(), uri) != avoided.end())
                continue;
            const auto status = connection.open(uri);
            if (status.ok()) {
                ++counters_.connections_opened;
                if (rested_ones) server_worked(i);
                // Users still get in, so only the log tells the operator that a DC is failing.
                if (!failures.empty()) spdlog::warn("directory: {}; using {} instead", failures, uri);
                return std::nullopt;
            }
            // easgate's own Kerberos login failed: asking the next DC would only repeat it.
            if (!status.own_failure.empty())
                return common::Failure::unavailable(
                           "directory unavailable: easgate's own Kerberos login for "
                           "the GSSAPI bind failed, no directory server is at fault: " +
                           status.message)
                    .because(status.own_failure);
            failures += (failures.empty() ? "" : "; ") + uri + ": " + status.message;
            server_failed(uri);
        }
    }
    return common::Failure::unavailable("no directory server answered: " + failures).because("unavailable");
}

void DirectoryServers::server_failed(const std::string& uri) {
    const auto at = std::find(config_.uris.begin(), config_.uris.end(), uri);
    if (at == config_.uris.end()) return;
    const auto index = static_cast<std::size_t>(at - config_.uris.begin());
    ++counters_.server_failures[index];
    std::lock_guard lock(mutex_);
    resting_until_[index] = std::chrono::steady_clock::now() + server_rest;
}

void DirectoryServers::server_worked(std::size_t index) {
    std::lock_guard lock(mutex_);
    resting_until_[index] = {};
}

bool DirectoryServers::resting(std::size_t index) const {
    std::lock_guard lock(mutex_);
    return std::chrono::steady_clock::now() < resting_until_[index];
}

// Cleared (empty) by a search that worked.
void DirectoryServers::remember_outage(std::string why) {
    std::lock_guard lock(mutex_);
    outage_ = std::move(why);
    outage_at_ = std::chrono::steady_clock::now();
}

std::optional<std::string> DirectoryServers::not_ready_reason() const {
    std::lock_guard lock(mutex_);
    if (outage_.empty() || std::chrono::steady_clock::now() - outage_at_ > DirectoryClient::outage_memory)
        return std::nullopt;
    return outage_;
}

}  // namespace easgate::directory
