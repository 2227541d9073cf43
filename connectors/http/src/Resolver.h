#pragma once
// Internal to hub::http: host name lookups for Client.

#include "hub/http/Client.h"

#include <boost/asio/ip/tcp.hpp>

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace hub::runtime {
class Loop;
}
namespace hub::http {
using runtime::Loop;  // the runtime's fibers, on which a lookup parks its caller
}

namespace hub::http::detail {

/// Host name lookups bounded by the request's deadline. getaddrinfo takes no
/// deadline and cannot be cancelled (a DNS server that never answers holds it
/// for the resolver's own timeouts, times its attempts, times its servers), so
/// it runs on a thread of the resolver's and the request waits for the answer
/// only until its deadline; a lookup that answers later is thrown away. Up to
/// kMaxThreads lookups run at once, so one hanging name does not hold up the
/// others; threads idle for kIdleExit go away. The threads are detached and
/// share this state, so a client can be destroyed while a lookup still hangs.
class Resolver {
public:
    explicit Resolver(Client::Options::LookUp lookUp);

    /// The endpoints of host:port, or RequestError (Timeout once deadline passes;
    /// origin names the peer in messages). On a Loop's fiber (loop not null) the
    /// fiber is parked meanwhile, else the thread waits.
    std::vector<boost::asio::ip::tcp::endpoint> resolve(Loop* loop, const std::string& host, unsigned short port,
                                                        std::chrono::steady_clock::time_point deadline,
                                                        const std::string& origin);

private:
    static constexpr std::size_t kMaxThreads = 16;
    static constexpr std::chrono::seconds kIdleExit{30};

    // One lookup, shared by the request that waits and the thread that runs it.
    struct Lookup {
        std::string host, service;
        std::mutex mutex;
        std::condition_variable finished;
        bool done = false;
        int rc = 0;
        int systemErrno = 0;
        std::vector<boost::asio::ip::tcp::endpoint> endpoints;
        std::function<void()> onDone;  // a parked fiber's wake-up; taken once, under mutex
    };

    struct State {
        Client::Options::LookUp lookUp = nullptr;
        std::mutex mutex;
        std::condition_variable work;
        std::deque<std::shared_ptr<Lookup>> queue;
        std::size_t threads = 0;
        std::size_t idle = 0;
    };

    void start(const std::shared_ptr<Lookup>& lookup);
    static void serve(State& state);
    static void run(Client::Options::LookUp lookUp, Lookup& lookup) noexcept;

    std::shared_ptr<State> state_;
};

}  // namespace hub::http::detail
