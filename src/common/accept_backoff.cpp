#include "easgate/common/accept_backoff.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio/steady_timer.hpp>
#include <chrono>

#include "easgate/common/resource_shortage.hpp"
#include "easgate/common/use_nothrow.hpp"

namespace easgate::common {

boost::asio::awaitable<std::string> pause_after_failed_accept(const boost::asio::any_io_executor& executor,
                                                              const boost::system::error_code& ec,
                                                              LogRateLimiter& log, std::string_view what) {
    const auto shortage = resource_shortage(ec);
    std::string reason = shortage ? *shortage : ec.message();
    if (const long suppressed = log.admit(reason); suppressed >= 0)
        spdlog::error("{}: {}{}", what, reason, suppressed_note(suppressed));
    boost::asio::steady_timer pause(executor, std::chrono::milliseconds(100));
    co_await pause.async_wait(use_nothrow);
    co_return reason;
}

}  // namespace easgate::common
