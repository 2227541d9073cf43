// hub::runtime::Loop on its own: fibers started, parked and resumed by handlers of
// a real asio loop, stack reuse, failures inside a fiber, and a loop that goes
// away under parked fibers. The client's waits on a loop are in ClientTest.
#include "hub/runtime/Loop.h"

#include <Poco/AutoPtr.h>
#include <Poco/Channel.h>
#include <Poco/Logger.h>
#include <Poco/Message.h>

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include <chrono>
#include <cstring>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

using hub::runtime::Loop;
namespace asio = boost::asio;

namespace {

// Parks the running fiber until a handler of the loop resumes it.
void yieldToLoop(asio::io_context& io) {
    Loop::Fiber* self = Loop::running();
    asio::post(io, [self] { Loop::resume(self); });
    Loop::suspend();
}

}  // namespace

TEST(Loop, SpawnRunsAtOnceUntilTheFirstWait) {
    asio::io_context io(1);
    Loop loop(io);
    EXPECT_EQ(Loop::current(), &loop);
    EXPECT_EQ(Loop::running(), nullptr);
    std::vector<int> steps;
    loop.spawn("steps", [&] {
        EXPECT_NE(Loop::running(), nullptr);
        steps.push_back(1);
        yieldToLoop(io);
        steps.push_back(3);
    });
    steps.push_back(2);
    EXPECT_EQ(loop.fibers(), 1u);
    io.run();
    EXPECT_EQ(steps, (std::vector<int>{1, 2, 3}));
    EXPECT_EQ(loop.fibers(), 0u);
    EXPECT_EQ(Loop::running(), nullptr);
}

TEST(Loop, OnlyItsOwnThreadSeesIt) {
    asio::io_context io(1);
    Loop loop(io);
    Loop* seen = &loop;
    std::thread([&] { seen = Loop::current(); }).join();
    EXPECT_EQ(seen, nullptr);
}

TEST(Loop, ThousandsOfFibersInterleaveAndReuseStacks) {
    asio::io_context io(1);
    Loop::Options options;
    options.keptStacks = 64;
    Loop loop(io, options);
    constexpr int kFibers = 2000, kWaits = 10;
    std::vector<int> progress(kFibers, 0);
    std::vector<int> order;
    for (int f = 0; f < kFibers; ++f)
        loop.spawn("f" + std::to_string(f), [&, f] {
            for (int w = 0; w < kWaits; ++w) {
                ++progress[f];
                order.push_back(f);
                yieldToLoop(io);
            }
        });
    EXPECT_EQ(loop.fibers(), static_cast<std::size_t>(kFibers));
    io.run();
    EXPECT_EQ(loop.fibers(), 0u);
    for (int f = 0; f < kFibers; ++f) EXPECT_EQ(progress[f], kWaits) << f;
    ASSERT_EQ(order.size(), static_cast<std::size_t>(kFibers * kWaits));
    // Round robin through the loop's queue: fiber 1 ran before fiber 0's second step.
    EXPECT_EQ(order[1], 1);
    EXPECT_EQ(order[kFibers], 0);
    EXPECT_EQ(loop.pooledStacks(), 64u);

    // Later fibers take kept stacks: none is mapped anew while some are kept.
    loop.spawn("again", [&] { yieldToLoop(io); });
    EXPECT_EQ(loop.pooledStacks(), 63u);
    io.restart();
    io.run();
    EXPECT_EQ(loop.pooledStacks(), 64u);
}

TEST(Loop, AFailureStaysInsideItsFiber) {
    asio::io_context io(1);
    Loop loop(io);
    loop.spawn("throws at once", [] { throw std::runtime_error("boom"); });
    loop.spawn("throws later", [&] {
        yieldToLoop(io);
        throw 42;
    });
    bool after = false;
    loop.spawn("still works", [&] {
        yieldToLoop(io);
        after = true;
    });
    io.run();
    EXPECT_TRUE(after);
    EXPECT_EQ(loop.fibers(), 0u);
}

TEST(Loop, DeepStacksFitTheDefaultSize) {
    asio::io_context io(1);
    Loop loop(io);
    std::size_t sum = 0;
    loop.spawn("deep", [&] {
        // 192 KiB of locals, as a vendor's C code with big buffers might have.
        volatile char buffer[192 * 1024];
        std::memset(const_cast<char*>(buffer), 1, sizeof buffer);
        yieldToLoop(io);
        for (std::size_t i = 0; i < sizeof buffer; i += 4096) sum += buffer[i];
    });
    io.run();
    EXPECT_EQ(sum, 192u * 1024 / 4096);
}

TEST(Loop, GoingAwayFinishesParkedFibers) {
    asio::io_context io(1);
    int finished = 0;
    bool sawAbort = false;
    {
        Loop loop(io);
        for (int i = 0; i < 3; ++i)
            loop.spawn("parked", [&] {
                Loop::Fiber* self = Loop::running();
                Loop::suspend();  // nothing will resume it
                sawAbort = Loop::aborted(self);
                // A wait after the abort returns at once.
                Loop::suspend();
                ++finished;
            });
        EXPECT_EQ(loop.fibers(), 3u);
        EXPECT_EQ(finished, 0);
    }
    EXPECT_TRUE(sawAbort);
    EXPECT_EQ(finished, 3);
    EXPECT_EQ(Loop::current(), nullptr);
}

TEST(Loop, LocalStateLivesWithTheLoop) {
    asio::io_context io(1);
    auto state = std::make_shared<int>(7);
    std::weak_ptr<int> watch = state;
    {
        Loop loop(io);
        int key = 0;
        loop.local(&key) = std::move(state);
        EXPECT_EQ(*static_cast<int*>(loop.local(&key).get()), 7);
        int other = 0;
        EXPECT_EQ(loop.local(&other), nullptr);
        EXPECT_FALSE(watch.expired());
    }
    EXPECT_TRUE(watch.expired());
}

namespace {

class CollectingChannel : public Poco::Channel {
public:
    void log(const Poco::Message& message) override {
        std::lock_guard lock(mutex_);
        texts_.push_back(message.getText());
    }
    std::vector<std::string> texts() const {
        std::lock_guard lock(mutex_);
        return texts_;
    }

private:
    mutable std::mutex mutex_;
    std::vector<std::string> texts_;
};

}  // namespace

// A fiber that computes for longer than slowRun without waiting held up every
// connection of its loop: the operator is told which one.
TEST(Loop, AFiberThatHoldsTheLoopIsNamed) {
    Poco::AutoPtr<CollectingChannel> channel(new CollectingChannel);
    auto& log = Poco::Logger::get("hub.http.loop");
    Poco::AutoPtr<Poco::Channel> previous(log.getChannel(), true);
    log.setChannel(channel);
    asio::io_context io(1);
    Loop::Options options;
    options.slowRun = std::chrono::milliseconds(20);
    {
        Loop loop(io, options);
        loop.spawn("hog", [] {
            auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(60);
            while (std::chrono::steady_clock::now() < until) {
            }
        });
        loop.spawn("polite", [&] { yieldToLoop(io); });
        io.run();
    }
    log.setChannel(previous);
    auto texts = channel->texts();
    ASSERT_EQ(texts.size(), 1u);  // and one a while, not one per slow run
    EXPECT_NE(texts[0].find("'hog' held the event loop for"), std::string::npos) << texts[0];
}
