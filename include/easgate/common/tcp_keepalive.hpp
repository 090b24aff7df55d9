#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <boost/system/error_code.hpp>
#include <chrono>

namespace easgate::common {

// TCP keepalive that a firewall's or load balancer's idle timeout can't outlast, for connections to
// Exchange: a held Ping's connection says nothing for up to an hour, Linux's own probes start after
// two, and a firewall or load balancer between easgate and Exchange often forgets a flow idle for
// five minutes (F5's default, 300 s) and silently drops the answer Exchange sends for new mail.
// Probes start after keepalive_idle without traffic, one every keepalive_interval; after
// keepalive_probes unanswered the connection fails (about two minutes for a peer that is gone).
// Not for devices: probing a phone every minute would wake its radio.
inline constexpr std::chrono::seconds keepalive_idle{60};
inline constexpr std::chrono::seconds keepalive_interval{15};
inline constexpr int keepalive_probes = 4;

void keep_probing(boost::asio::ip::tcp::socket& socket, boost::system::error_code& ec);

}  // namespace easgate::common
