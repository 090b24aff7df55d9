#include "easgate/upstream/address_book.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/steady_timer.hpp>
#include <sstream>
#include <utility>

#include "easgate/common/resolve.hpp"
#include "easgate/common/spawn_handlers.hpp"
#include "easgate/common/use_nothrow.hpp"
#include "easgate/upstream/upstream.hpp"

namespace easgate::upstream {
namespace {

namespace asio = boost::asio;

// How long a refresh's lookup may take (the resolver's own timeout is 5 s a DNS server, twice).
constexpr std::chrono::seconds refresh_lookup_timeout{30};

std::string listed(const AddressBook::Addresses& addresses) {
    std::ostringstream text;  // an endpoint prints as 192.0.2.1:443 or [2001:db8::1]:443
    const char* separator = "";
    for (const auto& entry : addresses) text << std::exchange(separator, ", ") << entry.endpoint();
    return text.str();
}

// The same addresses, in any order: a DNS server may rotate them (Windows DNS does, by default).
bool same_addresses(const AddressBook::Addresses& left, const AddressBook::Addresses& right) {
    const auto sorted = [](const AddressBook::Addresses& addresses) {
        std::vector<asio::ip::tcp::endpoint> endpoints;
        for (const auto& entry : addresses) endpoints.push_back(entry.endpoint());
        std::sort(endpoints.begin(), endpoints.end());
        return endpoints;
    };
    return sorted(left) == sorted(right);
}

// The addresses of the same host and port that an upstream a reload replaced knew, so that a
// reload while DNS is down keeps them.
void take_over(Upstream& upstream, std::size_t server,
               const std::vector<std::shared_ptr<Upstream>>& replaced) {
    for (const auto& old : replaced) {
        const auto same = old->find_server(upstream.server(server));
        if (!same) continue;
        if (auto known = old->addresses().find(*same); !known.empty()) {
            upstream.addresses().store(server, std::move(known));
            return;
        }
    }
}

// Held weakly between lookups: an upstream a reload replaced is refreshed until nothing uses it.
// An IP address is "looked up" once (at once, without DNS), so that no connection to it waits
// behind a lookup of a name on the event loop's lookup thread.
asio::awaitable<void> refresh_forever(std::weak_ptr<Upstream> weak, std::size_t server, bool address) {
    asio::steady_timer pause(co_await asio::this_coro::executor);
    for (;;) {
        {
            const auto upstream = weak.lock();
            if (!upstream) co_return;
            const auto& target = upstream->server(server);
            auto [ec, found] =
                co_await common::resolve_before(target.host, std::to_string(target.port),
                                                std::chrono::steady_clock::now() + refresh_lookup_timeout);
            upstream->addresses().refreshed(server, "upstream " + upstream->name() + ": " + target.host, ec,
                                            std::move(found));
            if (address) co_return;
            pause.expires_after(upstream->dns_refresh());
        }
        co_await pause.async_wait(common::use_nothrow);
    }
}

}  // namespace

AddressBook::AddressBook(std::size_t servers) : entries_(std::make_unique<Entry[]>(servers)) {}

AddressBook::Addresses AddressBook::find(std::size_t server) const {
    std::lock_guard lock(entries_[server].mutex);
    return entries_[server].addresses;
}

void AddressBook::store(std::size_t server, Addresses found) {
    std::lock_guard lock(entries_[server].mutex);
    entries_[server].addresses = std::move(found);
}

void AddressBook::refreshed(std::size_t server, const std::string& what, const boost::system::error_code& ec,
                            Addresses found) {
    Entry& entry = entries_[server];
    std::lock_guard lock(entry.mutex);
    if (ec || found.empty()) {
        const bool first = !std::exchange(entry.failing, true);
        if (!first) return;
        const std::string why = ec ? ec.message() : "no address";
        if (entry.addresses.empty()) {
            spdlog::warn(
                "{}: looking the name up failed ({}); each new connection looks it up itself "
                "meanwhile. {}",
                what, why, lookup_remedy);
        } else {
            spdlog::warn(
                "{}: looking the name up failed ({}); new connections go on to the addresses found before "
                "({}) "
                "until a lookup works again: check the DNS servers in /etc/resolv.conf",
                what, why, listed(entry.addresses));
        }
        return;
    }
    // The lists are written out only when logged: a refresh runs every dns_refresh per server.
    if (std::exchange(entry.failing, false)) {
        spdlog::info("{}: looked up again: {}", what, listed(found));
    } else if (!entry.addresses.empty() && !same_addresses(entry.addresses, found)) {
        spdlog::info("{}: the name now stands for {} (was {})", what, listed(found), listed(entry.addresses));
    }
    entry.addresses = std::move(found);
}

void start_address_refresh(const asio::any_io_executor& executor,
                           const std::vector<std::shared_ptr<Upstream>>& upstreams,
                           const std::vector<std::shared_ptr<Upstream>>& replaced) {
    for (const auto& upstream : upstreams) {
        for (std::size_t server = 0; server < upstream->server_count(); ++server) {
            take_over(*upstream, server, replaced);
            boost::system::error_code not_an_address;
            asio::ip::make_address(upstream->server(server).host, not_an_address);
            asio::co_spawn(executor, refresh_forever(upstream, server, !not_an_address),
                           common::LogFailure{"looking up " + upstream->server(server).url});
        }
    }
}

}  // namespace easgate::upstream
