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
constexpr std::chrono::milliseconds longest_set_aside{std::chrono::minutes(5)};

std::string listed(const AddressBook::Addresses& addresses) {
    std::string text;
    for (const auto& address : addresses) text += (text.empty() ? "" : ", ") + to_text(address);
    return text;
}

// The same addresses, in any order: a DNS server may rotate them (Windows DNS does, by default).
bool same_addresses(AddressBook::Addresses left, AddressBook::Addresses right) {
    std::sort(left.begin(), left.end());
    std::sort(right.begin(), right.end());
    return left == right;
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
                                            found);
            if (address) co_return;
            pause.expires_after(upstream->dns_refresh());
        }
        co_await pause.async_wait(common::use_nothrow);
    }
}

}  // namespace

std::string to_text(const AddressBook::Address& address) {
    std::ostringstream text;  // as an endpoint prints
    text << address;
    return text.str();
}

AddressBook::AddressBook(std::size_t servers, std::chrono::milliseconds set_aside)
    : entries_(std::make_unique<Entry[]>(servers)), set_aside_for_(set_aside) {}

AddressBook::Addresses AddressBook::find(std::size_t server) const {
    const Entry& entry = entries_[server];
    std::lock_guard lock(entry.mutex);
    const std::size_t count = entry.addresses.size();
    if (count == 0) return {};
    const auto now = std::chrono::steady_clock::now();
    const auto aside = [&](const Address& address) {
        return std::any_of(entry.set_aside.begin(), entry.set_aside.end(),
                           [&](const SetAside& set) { return set.address == address && set.until > now; });
    };
    Addresses order;
    order.reserve(count);
    for (std::size_t i = 0; i < count; ++i) order.push_back(entry.addresses[(entry.turn + i) % count]);
    if (!entry.set_aside.empty())
        std::stable_partition(order.begin(), order.end(),
                              [&](const Address& address) { return !aside(address); });
    ++entry.turn;
    return order;
}

AddressBook::News AddressBook::connected(std::size_t server, const Address& address, bool worked) {
    Entry& entry = entries_[server];
    std::lock_guard lock(entry.mutex);
    const auto set = std::find_if(entry.set_aside.begin(), entry.set_aside.end(),
                                  [&](const SetAside& aside) { return aside.address == address; });
    const auto now = std::chrono::steady_clock::now();
    if (worked) {
        if (set == entry.set_aside.end()) return News::none;
        entry.set_aside.erase(set);
        return News::connects_again;
    }
    if (set == entry.set_aside.end()) {
        entry.set_aside.push_back({address, now + set_aside_for_, set_aside_for_});
        return News::failing;
    }
    set->length = std::min(set->length * 2, longest_set_aside);
    set->until = now + set->length;
    return News::none;
}

void AddressBook::store(std::size_t server, Addresses found) {
    std::lock_guard lock(entries_[server].mutex);
    entries_[server].addresses = std::move(found);
}

void AddressBook::refreshed(std::size_t server, const std::string& what, const boost::system::error_code& ec,
                            const Found& results) {
    Addresses found;
    for (const auto& entry : results) found.push_back(entry.endpoint());
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
    // An address the name no longer stands for has no place among those set aside.
    std::erase_if(entry.set_aside, [&](const SetAside& aside) {
        return std::find(found.begin(), found.end(), aside.address) == found.end();
    });
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
