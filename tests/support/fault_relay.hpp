#pragma once

// A controllable stand-in for a failing network between easgate and a real server (a KDC, a DC's
// LDAP port, Exchange): it listens on a loopback address and, depending on its mode, relays to the
// real server, accepts and says nothing (a black hole: a load-balancer VIP with no pool member, a
// half-dead DC), refuses connections, or relays slowly. The mode can change while easgate runs, so
// a test can also show easgate recovering. TCP always; UDP too when asked (krb5 tries UDP first).

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>

namespace easgate::testing {

class FaultRelay {
public:
    enum class Mode {
        forward,  // relay both ways to the target
        silent,   // accept (TCP) or receive (UDP) and never answer, never close
        refuse,   // nothing listening: connections refused, datagrams answered by ICMP unreachable
        slow,     // relay each connection, each chunk either way and each datagram after `delay`
        drop,     // packets dropped: TCP connects never complete (SYNs dropped), datagrams unanswered
    };

    // Listens on listen_address (a loopback address) at port (0: any free port) and relays to
    // target_address:target_port. Starts in `mode`.
    FaultRelay(const std::string& listen_address, std::uint16_t port, const std::string& target_address,
               std::uint16_t target_port, Mode mode, bool udp = false);
    ~FaultRelay();
    FaultRelay(const FaultRelay&) = delete;
    FaultRelay& operator=(const FaultRelay&) = delete;

    // Connections already relayed keep flowing; silent, refuse and drop also cut them.
    void set_mode(Mode mode, std::chrono::milliseconds delay = std::chrono::milliseconds(0));
    // Writes header to the target first on each connection relayed from now on, as a load
    // balancer sends a PROXY protocol header before the device's bytes.
    void send_first(std::string header);
    std::uint16_t port() const { return port_; }
    std::uint64_t connections() const { return connections_.load(); }  // TCP connections accepted
    std::uint64_t datagrams() const { return datagrams_.load(); }      // UDP datagrams received

private:
    struct State;
    boost::asio::io_context context_;
    std::shared_ptr<State> state_;
    std::uint16_t port_ = 0;
    std::atomic<std::uint64_t> connections_{0};
    std::atomic<std::uint64_t> datagrams_{0};
    std::thread thread_;
};

}  // namespace easgate::testing
