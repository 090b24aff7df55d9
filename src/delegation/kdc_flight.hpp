#pragma once

// Single-flight: the callers that want the same (user, SPN) while its KDC exchange is under way all
// wait for that one exchange.

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/execution/blocking.hpp>
#include <boost/asio/execution/outstanding_work.hpp>
#include <boost/asio/prefer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

#include "delegated_credential.hpp"
#include "easgate/delegation/delegation_service.hpp"

namespace easgate::delegation {

struct DelegationOutcome {
    std::shared_ptr<DelegatedCredential> credential;  // null when the KDC refused
    std::string first_token;                          // from the S4U2Proxy exchange, for its starter
    DelegationResult failure;
};

class KdcFlight {
public:
    // Completes on the awaiting coroutine's executor once complete() is called.
    boost::asio::awaitable<DelegationOutcome> wait() {
        return boost::asio::async_initiate<decltype(boost::asio::use_awaitable), void(DelegationOutcome)>(
            [this](auto handler) {
                std::unique_lock lock(mutex_);
                if (!outcome_) {
                    waiters_.emplace_back(std::move(handler));
                    return;
                }
                lock.unlock();
                resume(Waiter(std::move(handler)), *outcome_);
            },
            boost::asio::use_awaitable);
    }

    void complete(DelegationOutcome outcome) {
        std::vector<Waiter> waiters;
        {
            std::lock_guard lock(mutex_);
            outcome_ = std::move(outcome);
            waiters.swap(waiters_);
        }
        for (Waiter& waiter : waiters) resume(std::move(waiter), *outcome_);
    }

private:
    using Handler = boost::asio::any_completion_handler<void(DelegationOutcome)>;

    // A waiting coroutine, with work counted on its executor so its io_context doesn't run dry
    // (and return) while the exchange happens on the KDC threads.
    struct Waiter {
        explicit Waiter(Handler h)
            : work(boost::asio::prefer(boost::asio::get_associated_executor(h),
                                       boost::asio::execution::outstanding_work.tracked)),
              handler(std::move(h)) {}
        boost::asio::any_completion_executor work;
        Handler handler;
    };

    static void resume(Waiter waiter, const DelegationOutcome& outcome) {
        // Queued on the coroutine's own executor (never run inline): it resumes where it was.
        boost::asio::prefer(waiter.work, boost::asio::execution::blocking.never)
            .execute([handler = std::move(waiter.handler), outcome]() mutable {
                std::move(handler)(std::move(outcome));
            });
    }

    std::mutex mutex_;
    std::optional<DelegationOutcome> outcome_;  // set once; read-only afterwards
    std::vector<Waiter> waiters_;
};

}  // namespace easgate::delegation
