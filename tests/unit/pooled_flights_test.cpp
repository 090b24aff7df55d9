#include "easgate/common/pooled_flights.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/thread_pool.hpp>
#include <future>
#include <mutex>
#include <thread>

namespace easgate::common {
namespace {

namespace asio = boost::asio;
using std::chrono::seconds;
using IntFlight = std::shared_ptr<Flight<int>>;
using IntFlights = PooledFlights<int>;

constexpr int refusal = 503;

// What a waiter gets from the flight (-1: nothing within 5 s).
int waited(const IntFlight& flight) {
    asio::io_context context;
    int value = -1;
    asio::co_spawn(
        context,
        [&]() -> asio::awaitable<void> {
            const auto result = co_await flight->wait(seconds(5));
            if (result) value = *result;
        },
        asio::detached);
    context.run();
    return value;
}

// The owner's part, as the directory client and the delegation service play it: works that land
// their flight under the owner's lock and complete it with the key's length, each held until the
// gate opens.
struct Owner {
    explicit Owner(unsigned max_queued) : flights(max_queued) {}
    ~Owner() { pool.join(); }

    IntFlights::Joined join(const std::string& key) {
        std::lock_guard lock(mutex);
        return flights.join(
            key, seconds(10), pool,
            [this, key](const IntFlight& flight) {
                ++runs;
                gate.wait();
                {
                    std::lock_guard landing(mutex);
                    flights.land(key, flight);
                }
                flight->complete(static_cast<int>(key.size()));
            },
            [this] {
                ++refusals;
                return refusal;
            });
    }

    std::mutex mutex;
    IntFlights flights;
    std::promise<void> open;
    std::shared_future<void> gate = open.get_future().share();
    std::atomic<int> runs = 0;
    int refusals = 0;
    asio::thread_pool pool{1};
};

TEST(PooledFlights, WhoeverComesWhileAWorkRunsJoinsItAndItsLandingLetsTheNextStartAnew) {
    Owner owner(10);
    const auto first = owner.join("alice");
    const auto second = owner.join("alice");
    EXPECT_TRUE(first.started);
    EXPECT_FALSE(second.started);
    EXPECT_EQ(first.flight, second.flight);
    owner.open.set_value();
    EXPECT_EQ(waited(first.flight), 5);
    EXPECT_EQ(owner.runs, 1);
    const auto later = owner.join("alice");
    EXPECT_TRUE(later.started);
    EXPECT_EQ(waited(later.flight), 5);
    EXPECT_EQ(owner.runs, 2);
}

TEST(PooledFlights, NewWorkBeyondTheQueueBoundIsRefusedAtOnceAndAcceptedOnceTheQueueDrains) {
    Owner owner(2);
    const auto running = owner.join("a");
    while (owner.runs == 0) std::this_thread::yield();  // the one thread has taken it: none queued
    const auto queued_b = owner.join("bb");
    const auto queued_c = owner.join("ccc");
    const auto refused = owner.join("dddd");
    EXPECT_FALSE(queued_c.overloaded);
    EXPECT_TRUE(refused.started);
    EXPECT_TRUE(refused.overloaded);
    EXPECT_EQ(owner.refusals, 1);
    EXPECT_EQ(waited(refused.flight), refusal);  // answered already, while the gate is still shut
    const auto joined = owner.join("bb");        // a key in the queue is joined, not refused
    EXPECT_FALSE(joined.started);
    EXPECT_FALSE(joined.overloaded);
    const auto after_refusal = owner.join("dddd");  // the refused flight landed: not joined
    EXPECT_TRUE(after_refusal.overloaded);
    EXPECT_NE(after_refusal.flight, refused.flight);

    owner.open.set_value();
    EXPECT_EQ(waited(running.flight), 1);
    EXPECT_EQ(waited(queued_b.flight), 2);
    EXPECT_EQ(waited(queued_c.flight), 3);
    const auto accepted = owner.join("dddd");
    EXPECT_FALSE(accepted.overloaded);
    EXPECT_EQ(waited(accepted.flight), 4);
    EXPECT_EQ(owner.runs, 4);
    EXPECT_EQ(owner.refusals, 2);
}

}  // namespace
}  // namespace easgate::common
