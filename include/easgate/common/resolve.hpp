#pragma once

// A name lookup that ends by a deadline: asio's resolver has no timeout of its own.

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <chrono>
#include <string>
#include <utility>

namespace easgate::common {

using ResolveResult = std::pair<boost::system::error_code, boost::asio::ip::tcp::resolver::results_type>;

// The addresses of host:port, or an error; boost::beast::error::timeout when deadline passed first.
boost::asio::awaitable<ResolveResult> resolve_before(const std::string& host, const std::string& port,
                                                     std::chrono::steady_clock::time_point deadline);

}  // namespace easgate::common
