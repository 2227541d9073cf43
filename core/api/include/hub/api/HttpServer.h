#pragma once

#include "hub/api/Router.h"

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

namespace hub::api {

/// The HTTP front end: Boost.Beast on Asio. A few I/O threads run every
/// connection asynchronously; handlers answer inline (cheap work) or later from
/// any thread (plugin calls), so nothing blocks the listener.
class HttpServer {
public:
    struct Options {
        std::string address = "127.0.0.1";
        std::uint16_t port = 8080;  ///< 0 picks a free port; see port().
        std::size_t ioThreads = 2;
        std::size_t maxBodyBytes = 1024 * 1024;  ///< Larger bodies get 413.
        std::size_t maxHeaderBytes = 16 * 1024;  ///< Larger headers get 431.
        std::chrono::seconds idleTimeout{30};    ///< Keep-alive connections idle longer are closed.
        std::chrono::seconds readTimeout{15};    ///< A request (head and body) must arrive within this.
        std::size_t maxConnections = 10000;      ///< Beyond it, new connections get 503 and close.
        /// Lingering close (as nginx's lingering_time and lingering_timeout): after
        /// answering a request whose input was not all read (413, 400, pipelined
        /// requests behind a Connection: close), stop sending and discard what the
        /// client still sends, for up to lingerTotal and lingerRead between reads.
        std::chrono::seconds lingerTotal{30};
        std::chrono::seconds lingerRead{5};
        /// Out of descriptors (EMFILE, ENFILE) or kernel buffers, accepting pauses
        /// this long (the connection waits in the listen queue), as nginx does.
        std::chrono::milliseconds acceptBackoff{500};
        /// Each I/O thread's loop runs plugin calls of execution "loop" on fibers
        /// with stacks of this size (plus a guard page).
        std::size_t fiberStackBytes = 256 * 1024;
    };

    /// Checks a request before its handler runs: returns a problem response to
    /// refuse it, or nothing to let it through (after setting request->principal).
    using Authenticator = std::function<std::optional<Response>(Request&)>;

    /// Called once per answered request (access log, metrics, audit), on the
    /// connection's I/O thread as the answer is written: keep it cheap and
    /// lock-free. request.route tells which route answered (-1 for none).
    /// Answers to requests that could not be parsed are not observed.
    using Observer = std::function<void(const Request&, unsigned status, std::chrono::microseconds)>;

    HttpServer(Options options, const Router& router);
    ~HttpServer();

    void setAuthenticator(Authenticator authenticator);
    void setObserver(Observer observer);

    /// Binds and starts the I/O threads. Throws on a bind failure.
    void start();

    /// Stops accepting, lets requests in flight finish (up to drainTimeout), then
    /// closes every connection and joins the threads.
    void stop(std::chrono::milliseconds drainTimeout = std::chrono::milliseconds(10000));

    std::uint16_t port() const;
    std::size_t inFlight() const;

    /// For a watchdog (systemd's WatchdogSec): true when every I/O thread's
    /// event loop has run the no-op the previous call posted to it, and then
    /// posts the next round; false (posting nothing more) while one has not.
    /// The first call after start() is true. Call from one thread only.
    bool heartbeat();

private:
    friend class Session;
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace hub::api
