#include "easgate/common/single_flight.hpp"

#include <gtest/gtest.h>

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/experimental/parallel_group.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <thread>

namespace easgate::common {
namespace {

namespace asio = boost::asio;
using namespace asio::experimental::awaitable_operators;
using std::chrono::milliseconds;
using std::chrono::seconds;
using Clock = std::chrono::steady_clock;
using IntFlight = Flight<int>;

// What one waiter saw: its result, the thread it resumed on and when.
struct Seen {
    std::optional<IntFlight::Waited> waited;
    std::thread::id thread;
    Clock::duration after{};
};

asio::awaitable<void> wait_into(std::shared_ptr<IntFlight> flight, milliseconds timeout, Seen& seen) {
    const auto start = Clock::now();
    seen.waited = co_await flight->wait(timeout);
    seen.thread = std::this_thread::get_id();
    seen.after = Clock::now() - start;
}

asio::awaitable<void> sleep(milliseconds duration) {
    asio::steady_timer timer(co_await asio::this_coro::executor, duration);
    co_await timer.async_wait(asio::use_awaitable);
}

// Completes the flight from a thread of its own (like an LDAP or KDC worker) after `delay`.
std::jthread complete_later(std::shared_ptr<IntFlight> flight, milliseconds delay, int value) {
    return std::jthread([flight, delay, value] {
        std::this_thread::sleep_for(delay);
        flight->complete(value);
    });
}

TEST(SingleFlight, EveryWaiterGetsTheOneResultOnItsOwnThread) {
    asio::io_context context;
    auto flight = std::make_shared<IntFlight>();
    std::array<Seen, 3> seen;
    for (auto& one : seen) asio::co_spawn(context, wait_into(flight, seconds(10), one), asio::detached);
    const auto worker = complete_later(flight, milliseconds(50), 42);
    context.run();
    for (const auto& one : seen) {
        ASSERT_TRUE(one.waited && one.waited->has_value());
        EXPECT_EQ(**one.waited, 42);
        EXPECT_EQ(one.thread, std::this_thread::get_id());  // the io_context's, not the worker's
    }
}

TEST(SingleFlight, AWaiterAfterTheResultGetsItAtOnce) {
    asio::io_context context;
    auto flight = std::make_shared<IntFlight>();
    flight->complete(7);
    Seen seen;
    asio::co_spawn(context, wait_into(flight, seconds(10), seen), asio::detached);
    context.run();
    ASSERT_TRUE(seen.waited && seen.waited->has_value());
    EXPECT_EQ(**seen.waited, 7);
    EXPECT_LT(seen.after, milliseconds(500));
}

TEST(SingleFlight, EachWaiterStopsAtItsOwnDeadlineWhileTheOthersGetTheResult) {
    asio::io_context context;
    auto flight = std::make_shared<IntFlight>();
    Seen impatient, patient;
    asio::co_spawn(context, wait_into(flight, milliseconds(50), impatient), asio::detached);
    asio::co_spawn(context, wait_into(flight, seconds(10), patient), asio::detached);
    const auto worker = complete_later(flight, milliseconds(300), 5);
    context.run();
    ASSERT_TRUE(impatient.waited);
    EXPECT_EQ(impatient.waited->error(), asio::error::timed_out);
    EXPECT_GE(impatient.after, milliseconds(50));
    EXPECT_LT(impatient.after, milliseconds(250));
    ASSERT_TRUE(patient.waited && patient.waited->has_value());
    EXPECT_EQ(**patient.waited, 5);
}

TEST(SingleFlight, AWaiterRacedAgainstATimerIsCancelledAtOnceAndTheWorkStillCompletes) {
    asio::io_context context;
    auto flight = std::make_shared<IntFlight>();
    Seen cancelled, later;
    asio::co_spawn(
        context,
        [&]() -> asio::awaitable<void> {
            co_await (wait_into(flight, seconds(10), cancelled) || sleep(milliseconds(50)));
            co_await wait_into(flight, seconds(10), later);
        },
        asio::detached);
    const auto worker = complete_later(flight, milliseconds(400), 9);
    context.run();
    ASSERT_TRUE(cancelled.waited);
    EXPECT_EQ(cancelled.waited->error(), asio::error::operation_aborted);
    EXPECT_LT(cancelled.after, milliseconds(300));  // not at its deadline, nor when the work ended
    ASSERT_TRUE(later.waited && later.waited->has_value());
    EXPECT_EQ(**later.waited, 9);
}

TEST(SingleFlight, AWaiterSpawnedWithACancellationSignalStopsWhenItIsEmitted) {
    asio::io_context context;
    auto flight = std::make_shared<IntFlight>();
    asio::cancellation_signal signal;
    Seen cancelled, other;
    asio::co_spawn(context, wait_into(flight, seconds(10), cancelled),
                   asio::bind_cancellation_slot(signal.slot(), asio::detached));
    asio::co_spawn(context, wait_into(flight, seconds(10), other), asio::detached);
    asio::steady_timer emit(context, milliseconds(50));
    emit.async_wait([&](boost::system::error_code) { signal.emit(asio::cancellation_type::terminal); });
    const auto worker = complete_later(flight, milliseconds(400), 3);
    context.run();
    ASSERT_TRUE(cancelled.waited);
    EXPECT_EQ(cancelled.waited->error(), asio::error::operation_aborted);
    EXPECT_LT(cancelled.after, milliseconds(300));
    ASSERT_TRUE(other.waited && other.waited->has_value());  // the others wait on
    EXPECT_EQ(**other.waited, 3);
}

// As the listener runs the filter chain: in a parallel group with its deadline, wait_for_one.
TEST(SingleFlight, AWaiterInAParallelGroupEndsWithTheGroupsDeadline) {
    asio::io_context context;
    auto flight = std::make_shared<IntFlight>();
    Seen cancelled;
    Clock::duration group_took{};
    asio::co_spawn(
        context,
        [&]() -> asio::awaitable<void> {
            const auto start = Clock::now();
            asio::steady_timer due(context, milliseconds(50));
            co_await asio::experimental::make_parallel_group(
                asio::co_spawn(context, wait_into(flight, seconds(10), cancelled), asio::deferred),
                due.async_wait(asio::deferred))
                .async_wait(asio::experimental::wait_for_one(), asio::use_awaitable);
            group_took = Clock::now() - start;
        },
        asio::detached);
    const auto worker = complete_later(flight, milliseconds(400), 1);
    context.run();
    ASSERT_TRUE(cancelled.waited);
    EXPECT_EQ(cancelled.waited->error(), asio::error::operation_aborted);
    EXPECT_LT(group_took, milliseconds(300));
}

TEST(SingleFlight, StartedIsMarkedByTheWorker) {
    IntFlight flight;
    EXPECT_FALSE(flight.started());
    flight.mark_started();
    EXPECT_TRUE(flight.started());
}

TEST(Flights, OneFlightPerKeyUntilItLands) {
    Flights<int> flights;
    const auto first = flights.join("alice", seconds(10));
    const auto second = flights.join("alice", seconds(10));
    const auto other = flights.join("bob", seconds(10));
    EXPECT_TRUE(first.started);
    EXPECT_FALSE(second.started);
    EXPECT_EQ(first.flight, second.flight);
    EXPECT_TRUE(other.started);
    EXPECT_TRUE(flights.flying("alice", first.flight));
    flights.land("alice", first.flight);
    EXPECT_FALSE(flights.flying("alice", first.flight));
    EXPECT_TRUE(flights.join("alice", seconds(10)).started);
}

TEST(Flights, AFlightOlderThanMaxAgeIsReplacedAndItsLandingLeavesTheNewOne) {
    Flights<int> flights;
    const auto stuck = flights.join("alice", milliseconds(20));
    std::this_thread::sleep_for(milliseconds(30));
    const auto fresh = flights.join("alice", milliseconds(20));
    EXPECT_TRUE(fresh.started);
    EXPECT_NE(fresh.flight, stuck.flight);
    flights.land("alice", stuck.flight);
    EXPECT_TRUE(flights.flying("alice", fresh.flight));
}

}  // namespace
}  // namespace easgate::common
