#pragma once

// A directory server that answers as a DC in trouble would, for the results a lab DC (Samba) can't
// be made to give: busy (51), unavailable (52), a referral (10). It speaks enough LDAP for libldap:
// a simple bind succeeds, a search gets its scripted result; a healthy one answers a subtree search
// with one user entry (alice, enabled) and a base-scope search (a membership check) with none.
// Plain LDAP on 127.0.0.1, its own thread.

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <cstdint>
#include <string>
#include <thread>

namespace easgate::testing {

class FakeDirectoryServer {
public:
    // healthy_hanging_up: healthy, but it closes the connection after answering a base-scope search
    // (a lookup's last), as a DC drops connections idle past its MaxConnIdleTime.
    // busy_after_search: finds the user, then is busy for the reads of its entry, as a DC going into
    // shutdown or overloaded in the middle of a lookup.
    enum class Answer { healthy, healthy_hanging_up, busy, busy_after_search, unavailable, referral };

    // port: 0 for any free one, or the port of a server that stopped (a DC coming back).
    explicit FakeDirectoryServer(Answer answer, std::uint16_t port = 0);
    ~FakeDirectoryServer();
    FakeDirectoryServer(const FakeDirectoryServer&) = delete;
    FakeDirectoryServer& operator=(const FakeDirectoryServer&) = delete;

    std::string uri() const { return "ldap://127.0.0.1:" + std::to_string(port_); }
    std::uint16_t port() const { return port_; }
    std::uint64_t searches() const { return searches_.load(); }  // search requests received

    // The entry a healthy server finds.
    static constexpr const char* user_dn = "CN=alice,CN=Users,DC=example,DC=test";
    static constexpr const char* upn = "alice@example.test";

private:
    boost::asio::io_context context_;
    std::uint16_t port_ = 0;
    std::atomic<std::uint64_t> searches_{0};
    std::thread thread_;
};

}  // namespace easgate::testing
