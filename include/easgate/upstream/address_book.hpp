#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace easgate::upstream {

class Upstream;

// What to check when a server's name can't be looked up.
inline constexpr const char* lookup_remedy =
    "Check the name in upstreams[].servers, and the DNS servers in /etc/resolv.conf (or give the name an "
    "entry in /etc/hosts)";

// The addresses of an upstream's servers, looked up off the request path: a new connection takes
// the last ones found, and only when none were found yet does it wait for a lookup of its own.
// Asio runs an event loop's lookups on one thread, one after another: with a DNS server that does
// not answer, each would wait for the resolver's timeout (5 s a server in resolv.conf), and every
// new connection to Exchange behind it.
class AddressBook {
public:
    using Address = boost::asio::ip::tcp::endpoint;
    using Addresses = std::vector<Address>;
    using Found = boost::asio::ip::tcp::resolver::results_type;

    // set_aside: how long an address that failed to connect is first tried last.
    AddressBook(std::size_t servers, std::chrono::milliseconds set_aside);

    // The addresses to try for server, in order; empty before the first lookup worked. Each call
    // starts at the next address, so that a name with several (DNS round robin) spreads connections
    // over them, as nginx does; addresses set aside come last.
    Addresses find(std::size_t server) const;
    // A lookup found these.
    void store(std::size_t server, Addresses found);
    // A connect to address worked or failed. A failed address is set aside (tried last): a server
    // among the name's addresses that is down with its packets dropped (powered off) would otherwise
    // cost each connection that tried it first a share of its connect timeout. Once set_aside has
    // passed it is tried in its turn again, and each failure in a row doubles the wait, up to 5
    // minutes (an address retired but left in DNS costs a connection that rarely), until it connects.
    enum class News { none, failing, connects_again };  // for the log: a streak's start and end
    News connected(std::size_t server, const Address& address, bool worked);
    std::chrono::milliseconds set_aside_for() const { return set_aside_for_; }
    // A refresh of server's addresses (what, for the log: "upstream exchange: mail.corp.example")
    // ended with ec, or found `found`; logged when it starts or stops failing, or the addresses change.
    void refreshed(std::size_t server, const std::string& what, const boost::system::error_code& ec,
                   const Found& found);

private:
    struct SetAside {
        Address address;
        std::chrono::steady_clock::time_point until;
        std::chrono::milliseconds length;  // of this wait: doubled by each failure in a row
    };
    struct Entry {
        mutable std::mutex mutex;
        Addresses addresses;
        std::vector<SetAside> set_aside;
        mutable std::size_t turn = 0;  // where the next find() starts
        bool failing = false;          // the last refresh failed (logged once per streak)
    };
    std::unique_ptr<Entry[]> entries_;
    std::chrono::milliseconds set_aside_for_;
};

// 192.0.2.1:443, or [2001:db8::1]:443.
std::string to_text(const AddressBook::Address& address);

// upstreams[].dns_refresh: looks up the name of every server of the upstreams at once, then each
// dns_refresh, on executor (whose lookups are not the request path's) until its event loop stops or
// the upstream is gone. A failed lookup keeps the addresses found before: a DNS server down must
// not take Exchange away. A server named by its IP address is entered once.
// A server of `replaced` (the upstreams a reload replaces) with the same host and port hands its
// addresses over first.
void start_address_refresh(const boost::asio::any_io_executor& executor,
                           const std::vector<std::shared_ptr<Upstream>>& upstreams,
                           const std::vector<std::shared_ptr<Upstream>>& replaced = {});

}  // namespace easgate::upstream
