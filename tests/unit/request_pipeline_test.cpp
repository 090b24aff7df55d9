#include "easgate/pipeline/request_pipeline.hpp"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>

namespace easgate::pipeline {
namespace {

// A stage that answers at once, refuses at once, or must "ask the network"; it counts its calls.
class ScriptedStage final : public RequestStage {
public:
    enum class Answer { allow, refuse, later };
    explicit ScriptedStage(Answer answer) : answer_(answer) {}

    std::optional<common::Result<>> decide_now(RequestContext&) override {
        ++now_calls;
        if (answer_ == Answer::later) return std::nullopt;
        if (answer_ == Answer::refuse)
            return common::Result<>{common::Failure::refused("no").because("test")};
        return common::Result<>{};
    }
    boost::asio::awaitable<common::Result<>> process(RequestContext&) override {
        ++waited_calls;
        co_return common::Result<>{};
    }

    int now_calls = 0;
    int waited_calls = 0;

private:
    Answer answer_;
};

class RequestPipelineTest : public ::testing::Test {
protected:
    ScriptedStage& add(ScriptedStage::Answer answer) {
        auto stage = std::make_unique<ScriptedStage>(answer);
        auto& added = *stage;
        pipeline_.add(std::move(stage));
        return added;
    }

    common::Result<> run(std::size_t from) {
        boost::asio::io_context io;
        auto verdict = boost::asio::co_spawn(io, pipeline_.run(context_, from), boost::asio::use_future);
        io.run();
        return verdict.get();
    }

    common::RequestHeader header_;
    RequestContext context_{nullptr, header_, nullptr, {}, {}, {}, {}};
    RequestPipeline pipeline_;
};

TEST_F(RequestPipelineTest, StagesThatAnswerAtOnceGiveTheVerdictWithoutWaiting) {
    auto& first = add(ScriptedStage::Answer::allow);
    auto& second = add(ScriptedStage::Answer::allow);
    std::size_t next = 99;
    const auto verdict = pipeline_.run_now(context_, next);
    ASSERT_TRUE(verdict.has_value());
    EXPECT_TRUE(verdict->has_value());
    EXPECT_EQ(next, 2u);
    EXPECT_EQ(first.now_calls + second.now_calls, 2);
}

TEST_F(RequestPipelineTest, ARefusalAtOnceEndsTheWalk) {
    add(ScriptedStage::Answer::refuse);
    auto& after = add(ScriptedStage::Answer::allow);
    std::size_t next = 0;
    const auto verdict = pipeline_.run_now(context_, next);
    ASSERT_TRUE(verdict.has_value());
    ASSERT_FALSE(verdict->has_value());
    EXPECT_EQ(verdict->error().cause, "test");
    EXPECT_EQ(after.now_calls, 0);
}

TEST_F(RequestPipelineTest, AStageThatMustWaitTakesTheRestOfTheWalkToTheWaitingRun) {
    auto& first = add(ScriptedStage::Answer::allow);
    auto& waiting = add(ScriptedStage::Answer::later);
    auto& last = add(ScriptedStage::Answer::allow);
    std::size_t next = 0;
    EXPECT_FALSE(pipeline_.run_now(context_, next).has_value());
    EXPECT_EQ(next, 1u);
    EXPECT_EQ(last.now_calls, 0);
    EXPECT_TRUE(run(next).has_value());
    EXPECT_EQ(first.waited_calls, 0) << "a stage that answered is not asked again";
    EXPECT_EQ(waiting.waited_calls, 1);
    EXPECT_EQ(last.waited_calls, 1);
}

// A name, and a DN, pass to a new account when their holder leaves; a SID never does: pooled
// Exchange connections, authenticated as one account, are that account's.
TEST(RequestContextTest, ExchangeConnectionsAreTheAccountsBySidElseByDn) {
    common::RequestHeader header;
    RequestContext request{nullptr, header, nullptr, {}, {}, {}, {}};
    EXPECT_EQ(request.connection_owner(), "") << "no certificate: nothing pooled";
    directory::DirectoryUser user;
    user.distinguished_name = "CN=jsmith,OU=Staff,DC=corp,DC=example";
    user.object_sid = "S-1-5-21-1004336348-1177238915-682003330-2301";
    request.user = std::make_shared<const directory::DirectoryUser>(user);
    EXPECT_EQ(request.connection_owner(), user.object_sid);
    user.object_sid.clear();
    request.user = std::make_shared<const directory::DirectoryUser>(user);
    EXPECT_EQ(request.connection_owner(), user.distinguished_name);
}

}  // namespace
}  // namespace easgate::pipeline
