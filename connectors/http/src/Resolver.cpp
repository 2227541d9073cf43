#include "Resolver.h"

#include "ParkFiber.h"

#include <boost/asio/post.hpp>

#include <netdb.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <thread>

namespace hub::http::detail {

namespace asio = boost::asio;
using boost::system::error_code;

Resolver::Resolver(Client::Options::LookUp lookUp) : state_(std::make_shared<State>()) {
    state_->lookUp = lookUp ? lookUp : &::getaddrinfo;
}

std::vector<asio::ip::tcp::endpoint> Resolver::resolve(Loop* loop, const std::string& host, unsigned short port,
                                                       std::chrono::steady_clock::time_point deadline,
                                                       const std::string& origin) {
    auto lookup = std::make_shared<Lookup>();
    lookup->host = host;
    lookup->service = std::to_string(port);
    bool inTime = true;
    if (!loop) {
        start(lookup);
        std::unique_lock lock(lookup->mutex);
        inTime = lookup->finished.wait_until(lock, deadline, [&] { return lookup->done; });
    } else {
        // Parked until the lookup's thread posts its wake-up to this loop, or
        // until the deadline, when the wake-up is posted here instead.
        auto executor = loop->context().get_executor();
        error_code ec = parkFiber(
            executor, deadline,
            [&](auto done) {
                lookup->onDone = [executor, done] { asio::post(executor, [done] { done(error_code{}); }); };
                start(lookup);
            },
            [&] {
                std::function<void()> wake;
                {
                    std::lock_guard lock(lookup->mutex);
                    wake = std::move(lookup->onDone);
                    lookup->onDone = nullptr;
                }
                if (wake) wake();
            });
        {
            // A loop going away resumes the fiber early: the lookup must not
            // post to it afterwards.
            std::lock_guard lock(lookup->mutex);
            lookup->onDone = nullptr;
        }
        if (ec == asio::error::operation_aborted)
            throw RequestError(Failure::Unavailable, origin + ": the event loop stopped");
        inTime = ec != asio::error::timed_out;
    }
    std::lock_guard lock(lookup->mutex);
    if (!inTime || !lookup->done) throw RequestError(Failure::Timeout, "no address for " + origin + " in time");
    if (lookup->rc != 0) {
        std::string why = lookup->rc == EAI_SYSTEM ? std::strerror(lookup->systemErrno) : ::gai_strerror(lookup->rc);
        throw RequestError(Failure::Unavailable, origin + ": cannot resolve: " + why);
    }
    if (lookup->endpoints.empty()) throw RequestError(Failure::Unavailable, origin + ": cannot resolve: no address");
    return std::move(lookup->endpoints);
}

void Resolver::start(const std::shared_ptr<Lookup>& lookup) {
    std::lock_guard lock(state_->mutex);
    state_->queue.push_back(lookup);
    if (state_->queue.size() > state_->idle && state_->threads < kMaxThreads) {
        ++state_->threads;
        std::thread([state = state_] { serve(*state); }).detach();
    } else {
        state_->work.notify_one();
    }
}

void Resolver::serve(State& state) {
    std::unique_lock lock(state.mutex);
    for (;;) {
        ++state.idle;
        bool work = state.work.wait_for(lock, kIdleExit, [&] { return !state.queue.empty(); });
        --state.idle;
        if (!work) {
            --state.threads;
            return;
        }
        auto lookup = std::move(state.queue.front());
        state.queue.pop_front();
        lock.unlock();
        run(state.lookUp, *lookup);
        lock.lock();
    }
}

void Resolver::run(Client::Options::LookUp lookUp, Lookup& lookup) noexcept {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_ADDRCONFIG | AI_NUMERICSERV;
    addrinfo* results = nullptr;
    int rc = lookUp(lookup.host.c_str(), lookup.service.c_str(), &hints, &results);
    int systemErrno = errno;
    std::vector<asio::ip::tcp::endpoint> endpoints;
    try {
        for (addrinfo* a = rc == 0 ? results : nullptr; a; a = a->ai_next) {
            if ((a->ai_family != AF_INET && a->ai_family != AF_INET6) || a->ai_addrlen > sizeof(sockaddr_in6))
                continue;
            asio::ip::tcp::endpoint endpoint;
            std::memcpy(endpoint.data(), a->ai_addr, a->ai_addrlen);
            endpoint.resize(a->ai_addrlen);
            endpoints.push_back(endpoint);
        }
    } catch (...) {
        rc = EAI_MEMORY;
    }
    if (results) ::freeaddrinfo(results);
    std::function<void()> wake;
    {
        std::lock_guard lock(lookup.mutex);
        lookup.done = true;
        lookup.rc = rc;
        lookup.systemErrno = systemErrno;
        lookup.endpoints = std::move(endpoints);
        wake = std::move(lookup.onDone);
        lookup.onDone = nullptr;
    }
    lookup.finished.notify_all();
    if (wake) wake();
}

}  // namespace hub::http::detail
