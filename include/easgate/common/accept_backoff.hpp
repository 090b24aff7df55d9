#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/system/error_code.hpp>
#include <string>
#include <string_view>

#include "easgate/common/logging.hpp"

namespace easgate::common {

// After a failed accept: logs "<what>: <why>" (through log, so at most once a second per reason) and
// pauses 100 ms. Out of descriptors, accept fails again at once while a connection waits in the
// backlog: without the pause the loop would spin on its thread and fill the log. Returns why (with
// the remedy when easgate ran out of something).
boost::asio::awaitable<std::string> pause_after_failed_accept(const boost::asio::any_io_executor& executor,
                                                              const boost::system::error_code& ec,
                                                              LogRateLimiter& log, std::string_view what);

}  // namespace easgate::common
