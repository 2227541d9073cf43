// The current request (hub/common/LogContext.h) follows the work: into a
// WorkerPool task, into a fiber, and back and forth at every fiber switch, so
// two requests' fibers interleaved on one thread never log each other's id.
#include "hub/common/LogContext.h"
#include "hub/runtime/Loop.h"
#include "hub/runtime/WorkerPool.h"

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include <future>
#include <string>
#include <vector>

using hub::runtime::Loop;
namespace asio = boost::asio;

namespace {

hub::log::RequestTagPtr tag(const std::string& id) {
    auto owner = std::make_shared<std::pair<std::string, hub::log::RequestTag>>();
    owner->first = id;
    owner->second.requestId = owner->first;
    return hub::log::RequestTagPtr(owner, &owner->second);
}

std::string currentId() {
    const auto& t = hub::log::currentRequest();
    return t ? std::string(t->requestId) : "";
}

}  // namespace

TEST(LogContext, APoolTaskRunsUnderTheRequestThatSubmittedIt) {
    hub::runtime::WorkerPool pool("log-context", 1, 4);
    std::promise<std::string> seen, seenWithout;
    {
        hub::log::RequestScope scope(tag("r-1"));
        ASSERT_TRUE(pool.trySubmit([&] { seen.set_value(currentId()); }));
    }
    ASSERT_TRUE(pool.trySubmit([&] { seenWithout.set_value(currentId()); }));
    EXPECT_EQ(seen.get_future().get(), "r-1");
    EXPECT_EQ(seenWithout.get_future().get(), "") << "the pool thread kept an earlier task's request";
}

TEST(LogContext, EachFiberKeepsItsOwnRequestAcrossSwitches) {
    asio::io_context io(1);
    Loop loop(io);
    std::vector<std::string> seen;
    auto body = [&](const std::string& name) {
        return [&, name] {
            seen.push_back(name + ":" + currentId());
            Loop::Fiber* self = Loop::running();
            asio::post(io, [self] { Loop::resume(self); });
            Loop::suspend();
            seen.push_back(name + ":" + currentId());
        };
    };
    {
        hub::log::RequestScope scope(tag("r-a"));
        loop.spawn("a", body("a"));
    }
    {
        hub::log::RequestScope scope(tag("r-b"));
        loop.spawn("b", body("b"));
        EXPECT_EQ(currentId(), "r-b") << "the spawner's request is its own again after the switch";
    }
    EXPECT_EQ(currentId(), "");
    io.run();  // the handlers resume a and b, with nothing current on this thread
    EXPECT_EQ(currentId(), "");
    EXPECT_EQ(seen, (std::vector<std::string>{"a:r-a", "b:r-b", "a:r-a", "b:r-b"}));
}
