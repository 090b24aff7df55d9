#include "loops.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <memory>

#include "easgate/common/use_nothrow.hpp"

namespace easgate::bench {
namespace {

using easgate::common::use_nothrow;
// After a failure a device waits this long before trying again, so a target that is down is not
// hammered by a loop that counts nothing but errors.
constexpr auto retry_pause = std::chrono::milliseconds(10);

asio::awaitable<void> counted(asio::awaitable<void> work, Countdown& done) {
    co_await std::move(work);
    done.arrive();
}

// Writes the request and reads the answer on an open connection.
asio::awaitable<Reply> exchange(DeviceConnection& connection, const std::string& header,
                                std::string_view body, Clock::duration timeout) {
    if (auto failure = co_await connection.write(header, body, timeout); !failure.empty())
        co_return Reply{.error = failure};
    co_return co_await connection.read(timeout);
}

}  // namespace

Countdown::Countdown(asio::io_context& io, std::size_t remaining)
    : remaining_(remaining), timer_(io, Clock::time_point::max()) {}

void Countdown::arrive() {
    if (remaining_ > 0 && --remaining_ == 0) timer_.cancel();
}

asio::awaitable<void> Countdown::wait() {
    while (remaining_ > 0) co_await timer_.async_wait(use_nothrow);
}

asio::awaitable<void> pause(Clock::duration duration) {
    asio::steady_timer timer(co_await asio::this_coro::executor, duration);
    co_await timer.async_wait(use_nothrow);
}

asio::awaitable<void> request_loop(const Run& run, const Device& device, const LoopPlan& plan, Stats& stats,
                                   Clock::duration offset) {
    DeviceConnection connection(co_await asio::this_coro::executor, run.tls, device);
    const auto header = activesync_header(device, plan.command, plan.body.size(), plan.content_type);
    SessionPtr session;
    auto next_start = Clock::now() + offset;
    for (;;) {
        if (plan.interval.count() > 0) {
            if (next_start >= plan.until) break;
            if (next_start > Clock::now()) co_await pause(next_start - Clock::now());
            next_start += plan.interval;
        } else if (Clock::now() >= plan.until) {
            break;
        }
        auto started = Clock::now();
        if (!connection.is_open()) {
            SSL_SESSION* resume =
                plan.resume ? session.get() : nullptr;  // named: GCC 12 ends a co_await's temporaries early
            const auto failure = co_await connection.open(run.target, resume, run.timeout);
            if (!failure.empty()) {
                stats.failed(failure);
                co_await pause(retry_pause);
                continue;
            }
            if (connection.resumed()) stats.noted("tls_resumed");
            if (!plan.connection_per_request)
                started = Clock::now();  // a kept-alive connection's setup is no request's
        }
        const auto reply = co_await exchange(connection, header, plan.body, run.timeout);
        if (!reply.error.empty()) {
            stats.failed(reply.error);
            connection.close();
            co_await pause(retry_pause);
            continue;
        }
        stats.succeeded(Clock::now() - started, header.size() + plan.body.size(), reply.body_bytes);
        if (plan.connection_per_request) {
            if (plan.resume) session = connection.session();
            connection.close();
        }
    }
    connection.close();
}

void start_loops(const Run& run, const std::vector<const Device*>& devices, const LoopPlan& plan,
                 Stats& stats, Countdown& done, Clock::duration offset) {
    for (const auto* device : devices)
        asio::co_spawn(run.io, counted(request_loop(run, *device, plan, stats, offset), done),
                       asio::detached);
}

asio::awaitable<void> first_request(const Run& run, const Device& device, std::string_view body,
                                    Stats& stats) {
    DeviceConnection connection(co_await asio::this_coro::executor, run.tls, device);
    const auto header = activesync_header(device, "Sync", body.size());
    const auto started = Clock::now();
    if (auto failure = co_await connection.open(run.target, nullptr, run.timeout); !failure.empty()) {
        stats.failed(failure);
        co_return;
    }
    const auto reply = co_await exchange(connection, header, body, run.timeout);
    if (!reply.error.empty()) {
        stats.failed(reply.error);
    } else {
        stats.succeeded(Clock::now() - started, header.size() + body.size(), reply.body_bytes);
    }
    connection.close();
}

namespace {

asio::awaitable<void> first_request_lane(const Run& run, const std::vector<const Device*>& devices,
                                         std::size_t& next, std::string_view body, Stats& stats) {
    while (next < devices.size()) co_await first_request(run, *devices[next++], body, stats);
}

}  // namespace

asio::awaitable<void> first_requests(const Run& run, const std::vector<const Device*>& devices,
                                     std::string_view body, Stats& stats) {
    std::size_t next = 0;
    const auto lanes = std::min<std::size_t>(devices.size(), std::max(1u, run.options.connect_parallel));
    Countdown done(run.io, lanes);
    for (std::size_t lane = 0; lane < lanes; ++lane)
        asio::co_spawn(run.io, counted(first_request_lane(run, devices, next, body, stats), done),
                       asio::detached);
    co_await done.wait();
}

std::string sync_body(std::size_t bytes) {
    // WBXML 1.3, UTF-8, then <Sync> (code page 0) holding one opaque blob of the rest's size.
    std::string body = {'\x03', '\x01', '\x6a', '\x00', '\x00', '\x00', '\x45', '\xc3'};
    const std::size_t overhead = body.size() + 4 + 1;  // a 4-byte length, the closing END
    const std::size_t blob = bytes > overhead ? bytes - overhead : 0;
    for (int shift = 21; shift > 0; shift -= 7) body += static_cast<char>(0x80 | ((blob >> shift) & 0x7f));
    body += static_cast<char>(blob & 0x7f);
    body.append(blob, 'x');
    body += '\x01';
    return body;
}

}  // namespace easgate::bench
