#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <optional>
#include <string>

namespace easgate::common {

// Parses a listening address ("127.0.0.1:9443", "[::1]:9443"); nullopt when it is not IP address:port.
std::optional<boost::asio::ip::tcp::endpoint> parse_listen_address(const std::string& text);

// Opens, binds and listens; throws std::runtime_error naming the address when that fails.
void listen_on(boost::asio::ip::tcp::acceptor& acceptor, const boost::asio::ip::tcp::endpoint& endpoint);

}  // namespace easgate::common
