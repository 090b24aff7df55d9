#pragma once

// Flights whose work runs on a thread pool (LDAP searches, KDC exchanges), with a bound on the work
// waiting for a thread: a directory or KDC that answers too slowly for the load then gets no more
// work queued than anyone would wait for, and new work is refused at once.

#include <atomic>
#include <boost/asio/post.hpp>
#include <chrono>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "easgate/common/single_flight.hpp"

namespace easgate::common {

template <class Result>
class PooledFlights {
public:
    using FlightPtr = std::shared_ptr<Flight<Result>>;

    struct Joined {
        FlightPtr flight;
        bool started = false;     // a new flight
        bool overloaded = false;  // a new flight, answered with the refusal at once: the queue was full
    };

    explicit PooledFlights(unsigned max_queued) : max_queued_(max_queued) {}
    PooledFlights(const PooledFlights&) = delete;
    PooledFlights& operator=(const PooledFlights&) = delete;

    // With the owner's lock held. key's flight, joined while it is younger than max_age; else a new
    // one, whose work(flight) is posted to pool, or, with max_queued works already waiting for a
    // thread, landed and completed with refusal() (nobody waits for work that never runs). The work
    // lands its flight itself, under the owner's lock, and completes it. The owner joins the pool
    // before this object goes.
    template <class Pool, class Work, class Refusal>
    Joined join(const std::string& key, std::chrono::milliseconds max_age, Pool& pool, Work work,
                Refusal refusal) {
        auto joined = flights_.join(key, max_age);
        if (!joined.started) return {std::move(joined.flight)};
        if (queued_.load(std::memory_order_relaxed) >= max_queued_) {
            flights_.land(key, joined.flight);
            joined.flight->complete(refusal());
            return {std::move(joined.flight), true, true};
        }
        queued_.fetch_add(1, std::memory_order_relaxed);
        boost::asio::post(pool, [this, flight = joined.flight, work = std::move(work)]() mutable {
            queued_.fetch_sub(1, std::memory_order_relaxed);
            flight->mark_started();
            work(flight);
        });
        return {std::move(joined.flight), true};
    }

    // With the owner's lock held, as Flights.
    bool flying(const std::string& key, const FlightPtr& flight) const {
        return flights_.flying(key, flight);
    }
    void land(const std::string& key, const FlightPtr& flight) { flights_.land(key, flight); }
    std::vector<FlightPtr> land_all() { return flights_.land_all(); }

private:
    Flights<Result> flights_;
    const unsigned max_queued_;
    std::atomic<unsigned> queued_{0};  // taken without the owner's lock, by the pool's threads
};

}  // namespace easgate::common
