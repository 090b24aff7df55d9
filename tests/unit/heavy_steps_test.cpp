#include "easgate/common/heavy_steps.hpp"

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <thread>

namespace easgate::common {
namespace {

namespace asio = boost::asio;

// Longer than a turn: the next heavy step must wait for the next turn.
void longer_than_a_turn() { std::this_thread::sleep_for(std::chrono::milliseconds(2)); }

TEST(HeavySteps, RunWhatIsReadyBetweenTwoTurns) {
    asio::io_context context;
    std::string order;
    auto& heavy = HeavySteps::of(context.get_executor());
    heavy.take_turn(context.get_executor(), [&] { order += 'A', longer_than_a_turn(); });
    heavy.take_turn(context.get_executor(), [&] { order += 'B', longer_than_a_turn(); });
    asio::post(context, [&] { order += 'x'; });
    asio::post(context, [&] { order += 'y'; });
    context.run();
    // Posted as they are, the heavy steps would run first: "ABxy".
    EXPECT_EQ(order, "AxyB");
    EXPECT_EQ(heavy.steps_run(), 2u);
}

TEST(HeavySteps, ShortStepsShareATurn) {
    asio::io_context context;
    std::string order;
    auto& heavy = HeavySteps::of(context.get_executor());
    heavy.take_turn(context.get_executor(), [&] { order += 'A'; });
    heavy.take_turn(context.get_executor(), [&] { order += 'B'; });
    asio::post(context, [&] { order += 'x'; });
    context.run();
    EXPECT_EQ(order, "ABx");
}

TEST(HeavySteps, AreNotStarvedByWorkThatKeepsComing) {
    asio::io_context context;
    std::string order;
    int light_left = 6;
    std::function<void()> light = [&] {
        order += 'x';
        if (--light_left > 0) asio::post(context, light);
    };
    asio::post(context, light);
    for (char step : std::string("ABC"))
        HeavySteps::of(context.get_executor()).take_turn(context.get_executor(), [&, step] {
            order += step;
            longer_than_a_turn();
        });
    context.run();
    EXPECT_EQ(order, "xAxBxCxxx");
}

TEST(HeavySteps, StepsStillWaitingAreDestroyedWithTheirContext) {
    auto held = std::make_shared<int>(0);
    {
        asio::io_context context;
        HeavySteps::of(context.get_executor()).take_turn(context.get_executor(), [held] { ++*held; });
        EXPECT_EQ(held.use_count(), 2);
    }
    EXPECT_EQ(held.use_count(), 1);
    EXPECT_EQ(*held, 0);
}

TEST(HeavySteps, EachContextHasItsOwnQueue) {
    asio::io_context first, second;
    EXPECT_NE(&HeavySteps::of(first.get_executor()), &HeavySteps::of(second.get_executor()));
    EXPECT_EQ(&HeavySteps::of(first.get_executor()), &HeavySteps::of(first.get_executor()));
}

}  // namespace
}  // namespace easgate::common
