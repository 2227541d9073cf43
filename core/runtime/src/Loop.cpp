#include "hub/runtime/Loop.h"

#include "hub/common/LogContext.h"

#include <Poco/Logger.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/context/fiber.hpp>
#include <boost/context/protected_fixedsize_stack.hpp>

#include <cassert>
#include <utility>
#include <vector>

// ASan and TSan follow a program from stack to stack only when told of each
// switch; Boost.Context's fcontext switches behind their back (its own
// BOOST_USE_ASAN covers only the ucontext flavour). Unannotated, ASan takes a
// fiber's frames for a stack overflow or reports false stack-use-after-scope
// once a pooled stack is reused, and TSan mixes the shadow stacks of fibers.
#if defined(__SANITIZE_ADDRESS__)
#define HUB_LOOP_ASAN 1
#endif
#if defined(__SANITIZE_THREAD__)
#define HUB_LOOP_TSAN 1
#endif
#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define HUB_LOOP_ASAN 1
#endif
#if __has_feature(thread_sanitizer)
#define HUB_LOOP_TSAN 1
#endif
#endif
#if defined(HUB_LOOP_ASAN)
#include <sanitizer/asan_interface.h>
#endif
#if defined(HUB_LOOP_TSAN)
#include <sanitizer/tsan_interface.h>
#endif

namespace hub::runtime {

namespace {

namespace ctx = boost::context;
using Clock = std::chrono::steady_clock;

thread_local Loop* tlLoop = nullptr;
thread_local Loop::Fiber* tlFiber = nullptr;

// The name it had in connectors/http: operators filter on it (docs/operator.md).
Poco::Logger& logger() { return Poco::Logger::get("hub.http.loop"); }

// Stacks are mmap'ed with a guard page below; unmapping and mapping one per call
// would cost three system calls and fresh page faults, so finished fibers' stacks
// are kept for the next ones.
struct StackPool {
    std::size_t bytes;
    std::size_t keep;
    std::vector<ctx::stack_context> free;

    ~StackPool() {
        for (auto& s : free) ctx::protected_fixedsize_stack(bytes).deallocate(s);
    }
};

// Boost.Context's StackAllocator over a loop's pool (used on the loop's thread only).
// It tells the fiber which stack it got (`used`), for the sanitizers.
class PooledStack {
public:
    PooledStack(StackPool& pool, ctx::stack_context* used) : pool_(&pool), used_(used) {}
    ctx::stack_context allocate() {
        if (pool_->free.empty()) return *used_ = ctx::protected_fixedsize_stack(pool_->bytes).allocate();
        ctx::stack_context s = pool_->free.back();
        pool_->free.pop_back();
#if defined(HUB_LOOP_ASAN)
        // The frames a finished fiber never returned from (Boost's entry
        // function) leave their red zones poisoned.
        __asan_unpoison_memory_region(static_cast<char*>(s.sp) - s.size, s.size);
#endif
        return *used_ = s;
    }
    void deallocate(ctx::stack_context& s) noexcept {
        if (pool_->free.size() < pool_->keep) pool_->free.push_back(s);
        else ctx::protected_fixedsize_stack(pool_->bytes).deallocate(s);
    }

private:
    StackPool* pool_;
    ctx::stack_context* used_;
};

}  // namespace

class Loop::Fiber {
public:
    Loop::Impl* loop = nullptr;
    std::string name;
    std::function<void()> fn;
    log::RequestTagPtr request;  // the request it runs for (log lines), while it is switched out
    ctx::fiber parked;  // this fiber, while it waits
    ctx::fiber back;    // what resumed it, while it runs
    bool done = false;
    bool aborted = false;
    Fiber* prev = nullptr;  // the loop's list of live fibers
    Fiber* next = nullptr;
    ctx::stack_context stack;  // set by PooledStack; for the sanitizers
#if defined(HUB_LOOP_ASAN)
    void* fakeStack = nullptr;       // ASan's, while parked
    const void* backBottom = nullptr;  // the stack that resumed it
    std::size_t backSize = 0;
#endif
#if defined(HUB_LOOP_TSAN)
    void* tsanFiber = __tsan_create_fiber(0);
    void* tsanBack = nullptr;  // TSan's state of what resumed it
    ~Fiber() { __tsan_destroy_fiber(tsanFiber); }
#endif
};

namespace {

// The sanitizers' side of a switch. Into a fiber: enterFiber before, backFromFiber
// after, on the stack that resumes it. On the fiber: arrived when it starts or is
// resumed, leaving before it parks or ends. Empty without a sanitizer.
void enterFiber([[maybe_unused]] Loop::Fiber& f, [[maybe_unused]] void** fakeStack) {
#if defined(HUB_LOOP_ASAN)
    __sanitizer_start_switch_fiber(fakeStack, static_cast<char*>(f.stack.sp) - f.stack.size, f.stack.size);
#endif
#if defined(HUB_LOOP_TSAN)
    f.tsanBack = __tsan_get_current_fiber();
    __tsan_switch_to_fiber(f.tsanFiber, 0);
#endif
}

void backFromFiber([[maybe_unused]] void* fakeStack) {
#if defined(HUB_LOOP_ASAN)
    __sanitizer_finish_switch_fiber(fakeStack, nullptr, nullptr);
#endif
}

void arrived([[maybe_unused]] Loop::Fiber& f) {
#if defined(HUB_LOOP_ASAN)
    __sanitizer_finish_switch_fiber(f.fakeStack, &f.backBottom, &f.backSize);
#endif
}

void leaving([[maybe_unused]] Loop::Fiber& f, [[maybe_unused]] bool ends) {
#if defined(HUB_LOOP_ASAN)
    // Null when it ends: ASan frees the fiber's fake stack.
    __sanitizer_start_switch_fiber(ends ? nullptr : &f.fakeStack, f.backBottom, f.backSize);
#endif
#if defined(HUB_LOOP_TSAN)
    __tsan_switch_to_fiber(f.tsanBack, 0);
#endif
}

}  // namespace

struct Loop::Impl {
    boost::asio::io_context& io;
    Options options;
    StackPool stacks;
    Fiber* live = nullptr;
    std::size_t count = 0;
    Clock::time_point lastWarning{};
    std::vector<std::pair<const void*, std::shared_ptr<void>>> locals;

    Impl(boost::asio::io_context& context, const Options& o)
        : io(context), options(o), stacks{o.stackBytes, o.keptStacks, {}} {}

    void link(Fiber* f) {
        f->next = live;
        if (live) live->prev = f;
        live = f;
        ++count;
    }
    void unlink(Fiber* f) {
        if (f->prev) f->prev->next = f->next;
        else live = f->next;
        if (f->next) f->next->prev = f->prev;
        --count;
    }

    // Switches to f until it waits or ends.
    void enter(Fiber* f, ctx::fiber&& target) {
        Fiber* outer = tlFiber;
        tlFiber = f;
        // The thread's current request is per fiber: the fiber's while it runs,
        // the resumer's again when it waits or ends (a pointer swap each way).
        log::RequestTagPtr outerRequest = log::exchangeCurrentRequest(std::move(f->request));
        const auto started = Clock::now();
        void* fakeStack = nullptr;
        enterFiber(*f, &fakeStack);
        ctx::fiber rest = std::move(target).resume();
        backFromFiber(fakeStack);
        const auto ran = Clock::now() - started;
        f->request = log::exchangeCurrentRequest(std::move(outerRequest));
        tlFiber = outer;
        if (ran > options.slowRun) warnSlow(*f, ran);
        if (f->done) {
            unlink(f);
            delete f;
        } else {
            f->parked = std::move(rest);
        }
    }

    void warnSlow(const Fiber& f, Clock::duration ran) {
        auto now = Clock::now();
        if (now - lastWarning < std::chrono::seconds(10)) return;  // one a while, not a flood
        lastWarning = now;
        logger().warning("'%s' held the event loop for %s ms without waiting; every connection of this loop "
                         "waited with it (run it on workers instead)",
                         f.name,
                         std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(ran).count()));
    }
};

Loop::Loop(boost::asio::io_context& io) : Loop(io, Options{}) {}

Loop::Loop(boost::asio::io_context& io, Options options) : io_(io), impl_(std::make_unique<Impl>(io, options)) {
    assert(tlLoop == nullptr && "one Loop per thread");
    tlLoop = this;
}

Loop::~Loop() {
    // A parked fiber cannot simply be destroyed: that unwinds its stack by an
    // exception, which must not cross a plugin's C frames. Each is resumed with
    // its waits failing instead, so it returns the ordinary way.
    for (int round = 0; impl_->live && round < 3; ++round) {
        std::vector<Fiber*> parked;
        for (Fiber* f = impl_->live; f; f = f->next) parked.push_back(f);
        for (Fiber* f : parked) {
            f->aborted = true;
            resume(f);
        }
    }
    for (Fiber* f = impl_->live; f; f = f->next) {
        // Still parked after three rounds: leak it rather than unwind it.
        logger().error("'%s' did not finish when its event loop stopped", f->name);
        new ctx::fiber(std::move(f->parked));
    }
    impl_->locals.clear();  // before the stacks and while io_ lives
    if (tlLoop == this) tlLoop = nullptr;
}

Loop* Loop::current() noexcept { return tlLoop; }

std::size_t Loop::fibers() const noexcept { return impl_->count; }
std::size_t Loop::pooledStacks() const noexcept { return impl_->stacks.free.size(); }

std::shared_ptr<void>& Loop::local(const void* key) {
    for (auto& [k, v] : impl_->locals)
        if (k == key) return v;
    return impl_->locals.emplace_back(key, nullptr).second;
}

void Loop::spawn(std::string name, std::function<void()> fn) {
    auto* f = new Fiber;
    f->loop = impl_.get();
    f->name = std::move(name);
    f->fn = std::move(fn);
    f->request = log::currentRequest();
    ctx::fiber start(std::allocator_arg, PooledStack(impl_->stacks, &f->stack), [f](ctx::fiber&& caller) {
        arrived(*f);
        f->back = std::move(caller);
        try {
            f->fn();
        } catch (const ctx::detail::forced_unwind&) {
            throw;
        } catch (const std::exception& e) {
            logger().error("'%s' failed on its fiber: %s", f->name, std::string(e.what()));
        } catch (...) {
            logger().error("'%s' failed on its fiber", f->name);
        }
        f->fn = nullptr;  // what it captured is released here, on its own stack
        f->done = true;
        leaving(*f, true);
        return std::move(f->back);
    });
    impl_->link(f);
    impl_->enter(f, std::move(start));
}

Loop::Fiber* Loop::running() noexcept { return tlFiber; }

void Loop::suspend() {
    Fiber* f = tlFiber;
    assert(f && "suspend() outside a fiber");
    if (f->aborted) return;
    leaving(*f, false);
    f->back = std::move(f->back).resume();
    arrived(*f);
}

void Loop::resume(Fiber* fiber) { fiber->loop->enter(fiber, std::move(fiber->parked)); }

void Loop::resumeLater(Fiber* fiber) {
    boost::asio::post(fiber->loop->io, [fiber] { resume(fiber); });
}

bool Loop::aborted(const Fiber* fiber) noexcept { return fiber->aborted; }

}  // namespace hub::runtime
