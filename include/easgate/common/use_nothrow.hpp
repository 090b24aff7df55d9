#pragma once

// The completion token of coroutines that look at an operation's error code instead of catching
// it: `auto [ec, n] = co_await stream.async_read_some(buffer, use_nothrow);`.

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace easgate::common {

inline constexpr auto use_nothrow = boost::asio::as_tuple(boost::asio::use_awaitable);

}  // namespace easgate::common
