#pragma once

// Single flight: work done once on a worker thread (an LDAP search, a KDC exchange, a token), awaited
// by any number of coroutines, each of which stops waiting at its own deadline or when it is
// cancelled. Blocking libldap and krb5 calls can't be interrupted: the work goes on (its result is
// still handed to whoever waits then, and cached by its owner), but nobody waits for it longer than
// they chose.

#include <atomic>
#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/associated_cancellation_slot.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/cancellation_type.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/execution/outstanding_work.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/prefer.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/system/result.hpp>
#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

namespace easgate::common {

template <class Result>
class Flight : public std::enable_shared_from_this<Flight<Result>> {
public:
    // What one waiter gets: the result, or asio::error::timed_out once its `timeout` has passed, or
    // asio::error::operation_aborted when its coroutine was cancelled through its cancellation slot.
    using Waited = boost::system::result<Result>;

    // Completes on the awaiting coroutine's executor, never inline.
    boost::asio::awaitable<Waited> wait(std::chrono::milliseconds timeout) {
        return boost::asio::async_initiate<decltype(boost::asio::use_awaitable), void(Waited)>(
            [self = this->shared_from_this(), timeout](auto handler) {
                auto waiter = std::make_shared<Waiter>(std::move(handler));
                std::unique_lock lock(self->mutex_);
                if (self->result_) {
                    lock.unlock();
                    Waiter::finish(std::move(waiter), *self->result_);
                    return;
                }
                // Armed before complete() can see the waiter: its timer and slot are then touched
                // only on its strand.
                waiter->arm(self, timeout);
                self->waiters_.push_back(std::move(waiter));
            },
            boost::asio::use_awaitable);
    }

    // The first result counts: a flight abandoned at shutdown (land_all) is completed again, in vain,
    // by its work when that ends.
    void complete(Result result) {
        std::vector<std::shared_ptr<Waiter>> waiters;
        {
            std::lock_guard lock(mutex_);
            if (result_) return;
            result_ = std::move(result);
            waiters.swap(waiters_);
        }
        for (auto& waiter : waiters) Waiter::finish(std::move(waiter), *result_);
    }

    // Set by the worker as it begins: a flight not started yet is queued behind other work.
    void mark_started() { started_ = true; }
    bool started() const { return started_; }

private:
    using Handler = boost::asio::any_completion_handler<void(Waited)>;

    // One awaiting coroutine. Its deadline, its cancellation and the result's arrival meet on a
    // strand of its executor; tracked work keeps its io_context running until it has been resumed.
    class Waiter : public std::enable_shared_from_this<Waiter> {
    public:
        template <class H>
        explicit Waiter(H handler)
            : executor_(boost::asio::get_associated_executor(handler)),
              work_(boost::asio::prefer(executor_, boost::asio::execution::outstanding_work.tracked)),
              strand_(boost::asio::make_strand(executor_)),
              deadline_(strand_),
              slot_(boost::asio::get_associated_cancellation_slot(handler)),
              handler_(std::move(handler)) {}

        void arm(const std::shared_ptr<Flight>& flight, std::chrono::milliseconds timeout) {
            deadline_.expires_after(timeout);
            deadline_.async_wait([self = this->shared_from_this(), flight](boost::system::error_code ec) {
                if (!ec && flight->forget(self)) self->resume(make_error_code(boost::asio::error::timed_out));
            });
            if (!slot_.is_connected()) return;
            // Any cancellation type: giving up a wait has no side effect. Runs where the signal is
            // emitted (the coroutine's executor); weak, as the slot lives in the coroutine's frame,
            // which this waiter's handler keeps alive.
            slot_.assign([weak = this->weak_from_this(),
                          weak_flight = std::weak_ptr(flight)](boost::asio::cancellation_type type) {
                const auto self = weak.lock();
                if (!self || type == boost::asio::cancellation_type::none) return;
                boost::asio::post(self->strand_, [self, weak_flight] {
                    const auto flight = weak_flight.lock();
                    if (flight && flight->forget(self)) {
                        self->deadline_.cancel();
                        self->resume(make_error_code(boost::asio::error::operation_aborted));
                    }
                });
            });
        }

        // Takes the caller's reference: a waiter must be destroyed on its own executor, never on the
        // thread that completed the flight (its timer belongs to an io_context that may be gone by
        // the time that thread lets go). The work it tracks keeps that io_context running until this
        // thread is done with the strand too.
        static void finish(std::shared_ptr<Waiter> waiter, const Result& result) {
            const auto keep_running = waiter->work_;
            const auto strand = waiter->strand_;
            boost::asio::post(strand, [self = std::move(waiter), result] {
                self->deadline_.cancel();
                self->resume(result);
            });
        }

    private:
        // On the strand, once. Queued on the coroutine's own executor (never run inline), where the
        // slot is cleared before the coroutine resumes, as Asio requires.
        void resume(Waited waited) {
            boost::asio::post(executor_, [slot = slot_, handler = std::move(handler_),
                                          waited = std::move(waited)]() mutable {
                if (slot.is_connected()) slot.clear();
                std::move(handler)(std::move(waited));
            });
            work_ = boost::asio::any_io_executor();
        }

        boost::asio::any_io_executor executor_;
        boost::asio::any_io_executor work_;
        boost::asio::strand<boost::asio::any_io_executor> strand_;
        boost::asio::steady_timer deadline_;
        boost::asio::cancellation_slot slot_;
        Handler handler_;
    };

    // A waiter whose deadline passed or which was cancelled: true when it was still waiting
    // (complete() hasn't taken it).
    bool forget(const std::shared_ptr<Waiter>& waiter) {
        std::lock_guard lock(mutex_);
        return std::erase(waiters_, waiter) > 0;
    }

    std::mutex mutex_;
    std::optional<Result> result_;  // set once; read-only afterwards
    std::vector<std::shared_ptr<Waiter>> waiters_;
    std::atomic<bool> started_{false};
};

// The flights in the air, one per key: whoever comes while one flies joins it. Not thread-safe: its
// owner locks (usually together with the cache the flights fill).
template <class Result>
class Flights {
public:
    using Clock = std::chrono::steady_clock;

    struct Joined {
        std::shared_ptr<Flight<Result>> flight;
        bool started = false;  // a new flight: the caller starts its work
    };

    // The flight for key, joined while it is younger than max_age; one stuck longer is left to
    // finish on its own (unheard) and a new one is started.
    Joined join(const std::string& key, std::chrono::milliseconds max_age) {
        const auto now = Clock::now();
        auto& entry = flights_[key];
        const bool start = !entry.flight || now - entry.started >= max_age;
        if (start) entry = {std::make_shared<Flight<Result>>(), now};
        return {entry.flight, start};
    }

    // Whether key's flight is still this one (not landed, not replaced).
    bool flying(const std::string& key, const std::shared_ptr<Flight<Result>>& flight) const {
        const auto it = flights_.find(key);
        return it != flights_.end() && it->second.flight == flight;
    }

    // The flight has its result: later callers start anew (or find the owner's cache).
    void land(const std::string& key, const std::shared_ptr<Flight<Result>>& flight) {
        if (flying(key, flight)) flights_.erase(key);
    }

    // Every flight in the air, landed: for its owner to complete (stopping).
    std::vector<std::shared_ptr<Flight<Result>>> land_all() {
        std::vector<std::shared_ptr<Flight<Result>>> flying;
        for (auto& [key, entry] : flights_) flying.push_back(std::move(entry.flight));
        flights_.clear();
        return flying;
    }

private:
    struct Entry {
        std::shared_ptr<Flight<Result>> flight;
        Clock::time_point started;
    };
    std::unordered_map<std::string, Entry> flights_;
};

}  // namespace easgate::common
