#pragma once

// CPU-heavy steps take turns with everything else on their thread. A TLS handshake step (key
// exchange, signatures, certificate checks) costs a few hundred microseconds; when a thousand
// devices reconnect at once, a request on a connection that is already open would otherwise wait
// behind every handshake step that became ready before it (128 at once: over 100 ms). Here heavy
// steps run in turns of about a millisecond, and between two turns all that became ready besides
// them: what HAProxy does with its "heavy" task class. The price, measured in docs/performance.md:
// handshakes interleaved with other work cost a little more CPU each.

#include <boost/asio/execution_context.hpp>
#include <boost/asio/post.hpp>
#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <type_traits>

namespace easgate::common {

// One queue per execution context (an easgate worker: one io_context, one thread).
class HeavySteps : public boost::asio::execution_context::service {
public:
    using key_type = HeavySteps;
    static inline boost::asio::execution_context::id id;

    explicit HeavySteps(boost::asio::execution_context& context) : service(context) {}

    // The queue of the context that runs `executor`.
    template <class Executor>
    static HeavySteps& of(const Executor& executor) {
        return boost::asio::use_service<HeavySteps>(
            boost::asio::query(executor, boost::asio::execution::context));
    }

    // Calls `step` (on `executor`) when its turn comes: after the steps queued before it, and after
    // what became ready on the context since the last heavy step ran.
    template <class Executor, class Handler>
    void take_turn(const Executor& executor, Handler&& step) {
        auto waiting = std::make_unique<StepOf<std::decay_t<Handler>>>(std::forward<Handler>(step));
        {
            std::lock_guard lock(mutex_);
            waiting_.push_back(std::move(waiting));
            if (turn_posted_) return;
            turn_posted_ = true;
        }
        post_turn(executor);
    }

    // Heavy steps run so far; for tests.
    std::uint64_t steps_run() const {
        std::lock_guard lock(mutex_);
        return steps_run_;
    }

private:
    // Boost 1.81's any_completion_handler wraps itself when moved into a container.
    struct Step {
        virtual ~Step() = default;
        virtual void run() = 0;
    };
    template <class Handler>
    struct StepOf final : Step {
        template <class H>
        explicit StepOf(H&& h) : handler(std::forward<H>(h)) {}
        void run() override { std::move(handler)(); }
        Handler handler;
    };

    template <class Executor>
    void post_turn(const Executor& executor) {
        boost::asio::post(executor, [this, executor] { run_turn(executor); });
    }

    // Heavy steps for up to one turn's worth of time, then the rest waits behind what is ready.
    // A turn of a millisecond or so keeps the crypto code hot across a few handshakes, and what
    // waits behind it (a request on an open connection) waits about as long.
    template <class Executor>
    void run_turn(const Executor& executor) {
        const auto until = std::chrono::steady_clock::now() + turn_length;
        do {
            std::unique_ptr<Step> step;
            {
                std::lock_guard lock(mutex_);
                if (waiting_.empty()) {  // all run, or emptied by shutdown
                    turn_posted_ = false;
                    return;
                }
                step = std::move(waiting_.front());
                waiting_.pop_front();
                ++steps_run_;
            }
            step->run();
        } while (std::chrono::steady_clock::now() < until);
        post_turn(executor);  // queued behind what is ready now, not before it
    }

    // The context is going away: its pending operations are destroyed, these with them.
    void shutdown() override {
        std::deque<std::unique_ptr<Step>> dropped;
        std::lock_guard lock(mutex_);
        dropped.swap(waiting_);
    }

    static constexpr std::chrono::microseconds turn_length{1000};

    mutable std::mutex mutex_;
    std::deque<std::unique_ptr<Step>> waiting_;
    bool turn_posted_ = false;
    std::uint64_t steps_run_ = 0;
};

}  // namespace easgate::common
