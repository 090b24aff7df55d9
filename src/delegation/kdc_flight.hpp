#pragma once

// Single-flight with a deadline: work done once on a worker thread (a KDC exchange, a token), awaited
// by any number of coroutines, each of which stops waiting at its own deadline. A krb5 call can't be
// interrupted: the work goes on (and its result is still handed to whoever waits then), but nobody
// waits for it longer than they chose.

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/execution/outstanding_work.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/prefer.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

#include "delegated_credential.hpp"
#include "easgate/delegation/delegation_service.hpp"

namespace easgate::delegation {

template <class Result>
class Flight : public std::enable_shared_from_this<Flight<Result>> {
public:
    // The result once complete() is called, or nullopt once `timeout` has passed; completes on the
    // awaiting coroutine's executor.
    boost::asio::awaitable<std::optional<Result>> wait(std::chrono::milliseconds timeout) {
        return boost::asio::async_initiate<decltype(boost::asio::use_awaitable), void(std::optional<Result>)>(
            [self = this->shared_from_this(), timeout](auto handler) {
                auto waiter = std::make_shared<Waiter>(std::move(handler));
                std::unique_lock lock(self->mutex_);
                if (self->result_) {
                    lock.unlock();
                    Waiter::finish(std::move(waiter), *self->result_);
                    return;
                }
                self->waiters_.push_back(waiter);
                lock.unlock();
                waiter->start_deadline(self, timeout);
            },
            boost::asio::use_awaitable);
    }

    void complete(Result result) {
        std::vector<std::shared_ptr<Waiter>> waiters;
        {
            std::lock_guard lock(mutex_);
            result_ = std::move(result);
            waiters.swap(waiters_);
        }
        for (auto& waiter : waiters) Waiter::finish(std::move(waiter), *result_);
    }

private:
    using Handler = boost::asio::any_completion_handler<void(std::optional<Result>)>;

    // One awaiting coroutine. Its deadline timer and the result's arrival meet on a strand of its
    // executor; tracked work keeps its io_context running until it has been resumed.
    class Waiter : public std::enable_shared_from_this<Waiter> {
    public:
        template <class H>
        explicit Waiter(H handler)
            : executor_(boost::asio::get_associated_executor(handler)),
              work_(boost::asio::prefer(executor_, boost::asio::execution::outstanding_work.tracked)),
              strand_(boost::asio::make_strand(executor_)),
              deadline_(strand_),
              handler_(std::move(handler)) {}

        void start_deadline(const std::shared_ptr<Flight>& flight, std::chrono::milliseconds timeout) {
            deadline_.expires_after(timeout);
            deadline_.async_wait([self = this->shared_from_this(), flight](boost::system::error_code ec) {
                if (!ec && flight->forget(self)) self->resume(std::nullopt);
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
        // On the strand, once. Queued on the coroutine's own executor (never run inline).
        void resume(std::optional<Result> result) {
            boost::asio::post(executor_,
                              [handler = std::move(handler_), result = std::move(result)]() mutable {
                                  std::move(handler)(std::move(result));
                              });
            work_ = boost::asio::any_io_executor();
        }

        boost::asio::any_io_executor executor_;
        boost::asio::any_io_executor work_;
        boost::asio::strand<boost::asio::any_io_executor> strand_;
        boost::asio::steady_timer deadline_;
        Handler handler_;
    };

    // A waiter whose deadline passed: true when it was still waiting (complete() hasn't taken it).
    bool forget(const std::shared_ptr<Waiter>& waiter) {
        std::lock_guard lock(mutex_);
        return std::erase(waiters_, waiter) > 0;
    }

    std::mutex mutex_;
    std::optional<Result> result_;  // set once; read-only afterwards
    std::vector<std::shared_ptr<Waiter>> waiters_;
};

struct DelegationOutcome {
    std::shared_ptr<DelegatedCredential> credential;  // null when the KDC refused
    std::string first_token;                          // from the S4U2Proxy exchange, for its starter
    DelegationResult failure;
};

using KdcFlight = Flight<DelegationOutcome>;

}  // namespace easgate::delegation
