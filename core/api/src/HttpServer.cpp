#include "hub/api/HttpServer.h"

#include "hub/runtime/Loop.h"

#include <Poco/Logger.h>
#include <Poco/UUIDGenerator.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/write.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/status.hpp>

#include <array>
#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <ctime>
#include <mutex>
#include <thread>

namespace hub::api {

namespace asio = boost::asio;
namespace beast = boost::beast;
using tcp = asio::ip::tcp;

namespace {

Poco::Logger& logger() { return Poco::Logger::get("hub.http"); }

// Request ids: a per-process random prefix and a counter, cheaper than a UUID
// per request and still unique across restarts.
std::string nextRequestId() {
    static const std::string prefix = Poco::UUIDGenerator::defaultGenerator().createRandom().toString().substr(0, 8);
    static std::atomic<std::uint64_t> counter{0};
    return prefix + "-" + std::to_string(counter.fetch_add(1, std::memory_order_relaxed) + 1);
}

// A client's X-Request-Id is kept (for the audit trail, beside the hub's own id)
// only when it is short printable ASCII: it is the client's text, not ours.
bool usableClientId(std::string_view id) {
    if (id.empty() || id.size() > 128) return false;
    for (char c : id)
        if (c < 0x21 || c > 0x7e) return false;
    return true;
}

// RFC 9110's IMF-fixdate ("Sun, 06 Nov 1994 08:49:37 GMT") of the current
// second. Each I/O thread formats it once a second; English names by hand, as
// strftime's %a and %b follow the locale.
std::string_view httpDate() {
    static constexpr const char* kDays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                              "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    thread_local std::time_t cachedSecond = -1;
    thread_local char text[32];
    thread_local int length = 0;
    const std::time_t now = std::time(nullptr);
    if (now != cachedSecond) {
        std::tm utc{};
        gmtime_r(&now, &utc);
        length = std::snprintf(text, sizeof text, "%s, %02d %s %04d %02d:%02d:%02d GMT", kDays[utc.tm_wday % 7],
                               utc.tm_mday, kMonths[utc.tm_mon % 12], utc.tm_year + 1900, utc.tm_hour, utc.tm_min,
                               utc.tm_sec);
        cachedSecond = now;
    }
    return {text, static_cast<std::size_t>(length)};
}

// Running out of descriptors (or kernel memory) fails every accept until some
// connection closes: retrying at once is a hot loop. nginx stops accepting for
// a while; so do we.
bool isResourceExhaustion(const beast::error_code& ec) {
    return ec == asio::error::no_descriptors || ec.value() == ENFILE || ec == asio::error::no_buffer_space ||
           ec == asio::error::no_memory;
}

}  // namespace

class Session;

// One request's answer slot. `executor` never changes after construction, so
// after() may read it from any thread; `session` is touched only by the one
// send() that wins the exchange on `sent` (or by the destructor, when nobody
// sent), never by after().
struct Responder::State {
    State(std::shared_ptr<Session> s, asio::any_io_executor e);
    ~State();
    const asio::any_io_executor executor;  // the connection's loop
    std::shared_ptr<Session> session;
    std::atomic<bool> sent{false};
    std::mutex timerMutex;
    std::shared_ptr<asio::steady_timer> timer;  // a pending after(); cancelled by send()
};

struct HttpServer::Impl {
    Options options;
    const Router& router;
    Authenticator authenticator;
    Observer observer;

    // Counters first: sessions still queued in io touch them when io is destroyed.
    std::atomic<bool> stopping{false};
    std::atomic<std::size_t> inFlight{0};
    std::atomic<std::size_t> connections{0};
    std::mutex drainMutex;
    std::condition_variable drained;
    std::uint16_t boundPort = 0;
    // One event loop per I/O thread, as nginx's workers: a connection lives on one
    // loop, so its handlers need no strand and an answer from a plugin worker wakes
    // only that thread. The hint of 1 tells asio no other thread runs the loop.
    std::vector<std::unique_ptr<asio::io_context>> loops;
    std::vector<asio::executor_work_guard<asio::io_context::executor_type>> keepRunning;
    std::size_t nextLoop = 0;  // round robin; only the acceptor (on loop 0) touches it
    std::optional<tcp::acceptor> acceptor;
    std::vector<std::thread> threads;
    std::atomic<bool> loopsStopped{false};  // nothing may be posted to the loops any more
    // accept() backs off after running out of descriptors; loop 0's thread only.
    std::optional<asio::steady_timer> acceptPause;
    std::chrono::steady_clock::time_point acceptLogged{};
    std::uint64_t acceptFailures = 0;  // since the last line logged
    // heartbeat(): the no-ops posted to the loops that have not run yet.
    std::shared_ptr<std::atomic<std::size_t>> heartbeatsPending = std::make_shared<std::atomic<std::size_t>>(0);

    Impl(Options o, const Router& r) : options(std::move(o)), router(r) {}

    void accept();
    void acceptFailed(const beast::error_code& ec);
    void requestDone() {
        if (inFlight.fetch_sub(1) == 1 && stopping) {
            std::lock_guard lock(drainMutex);
            drained.notify_all();
        }
    }
};

/// One connection: reads a request, dispatches it, writes the answer, repeats
/// while keep-alive. All of its I/O runs on its event loop (one thread).
class Session : public std::enable_shared_from_this<Session> {
public:
    Session(tcp::socket socket, HttpServer::Impl& server)
        : stream_(std::move(socket)), server_(server) {
        server_.connections.fetch_add(1);
    }
    ~Session() { server_.connections.fetch_sub(1); }

    void start() {
        asio::dispatch(stream_.get_executor(), [self = shared_from_this()] { self->read(); });
    }

    // `timeout`, the request's timer if it had one, is cancelled in the same hop
    // (a second post from a worker thread would wake the I/O thread twice).
    void deliver(Response response, std::shared_ptr<asio::steady_timer> timeout = nullptr) {
        // dispatch: an answer made on this connection's own loop (the cheap
        // routes) is written at once; one from a worker thread is posted to it.
        asio::dispatch(stream_.get_executor(),
                       [self = shared_from_this(), r = std::move(response), timeout = std::move(timeout)]() mutable {
                           if (timeout) timeout->cancel();
                           self->write(std::move(r));
                       });
    }

    asio::any_io_executor executor() { return stream_.get_executor(); }

    // Refuses a connection beyond the limit with a short 503.
    void refuseOverload() {
        auto self = shared_from_this();
        asio::dispatch(stream_.get_executor(), [self] {
            self->keepAlive_ = false;
            self->version_ = 11;
            self->started_ = std::chrono::steady_clock::now();
            self->writeRaw(problem(503, "too many connections"), false);
        });
    }

private:
    void read() {
        parser_.emplace();
        parser_->body_limit(server_.options.maxBodyBytes);
        parser_->header_limit(static_cast<std::uint32_t>(server_.options.maxHeaderBytes));
        // The first request gets readTimeout; between keep-alive requests, idleTimeout.
        stream_.expires_after(served_ ? server_.options.idleTimeout : server_.options.readTimeout);
        http::async_read(stream_, buffer_, *parser_,
                         [self = shared_from_this()](beast::error_code ec, std::size_t) { self->onRead(ec); });
    }

    void onRead(beast::error_code ec) {
        if (ec == http::error::end_of_stream || ec == asio::error::eof ||
            ec == asio::error::connection_reset || ec == beast::error::timeout ||
            ec == asio::error::operation_aborted) {
            close();
            return;
        }
        started_ = std::chrono::steady_clock::now();
        version_ = 11;
        headOnly_ = false;
        if (ec) {
            // The request cannot be trusted past this point: answer and close.
            keepAlive_ = false;
            unreadInput_ = true;
            unsigned status = 400;
            std::string detail = "malformed HTTP request: " + ec.message();
            if (ec == http::error::body_limit) {
                status = 413;
                detail = "request body larger than " + std::to_string(server_.options.maxBodyBytes) + " bytes";
            } else if (ec == http::error::header_limit) {
                status = 431;
                detail = "request headers larger than " + std::to_string(server_.options.maxHeaderBytes) + " bytes";
            }
            server_.inFlight.fetch_add(1);
            writeRaw(problem(status, detail), true);
            return;
        }
        server_.inFlight.fetch_add(1);
        auto request = std::make_shared<Request>();
        request->message = parser_->release();
        version_ = request->message.version();
        headOnly_ = request->message.method() == http::verb::head;
        keepAlive_ = request->message.keep_alive() && !server_.stopping;
        request->requestId = nextRequestId();
        auto rid = request->message.find("X-Request-Id");
        if (rid != request->message.end() && usableClientId({rid->value().data(), rid->value().size()}))
            request->clientRequestId = std::string(rid->value());
        if (auto tp = request->message.find("traceparent"); tp != request->message.end())
            request->traceId = log::traceIdFromTraceparent({tp->value().data(), tp->value().size()});
        request->logTag = {request->requestId, request->traceId};
        // Every line logged while this request is handled names it; what runs
        // for it later (pool tasks, fibers) carries the tag. It shares the
        // request's ownership: no allocation.
        log::RequestScope logScope(log::RequestTagPtr(request, &request->logTag));
        current_ = request;

        auto state = std::make_shared<Responder::State>(shared_from_this(), stream_.get_executor());
        Responder responder(state);

        // The one place a target is judged: past this, every path is canonical and
        // every escape in it and in the query decodes to UTF-8 text.
        const TargetCheck target =
            checkTarget({request->message.target().data(), request->message.target().size()});
        request->path = target.path;
        request->query = target.query;
        if (target.status == TargetCheck::Malformed) {
            responder.send(problem(400, target.reason, "Malformed request target",
                                   "urn:campushub:problem:malformed-target"));
            return;
        }
        const Router::Route* route = nullptr;
        auto match = target.status == TargetCheck::NotCanonical
                         ? Router::Match::NoPath
                         : server_.router.match(request->message.method(), request->path, route, request->params);
        if (match == Router::Match::NoPath) {
            responder.send(problem(404, "no such resource: " + std::string(request->path)));
            return;
        }
        if (match == Router::Match::NoMethod) {
            Response r = problem(405, std::string(request->message.method_string()) + " is not allowed on " +
                                          std::string(request->path));
            r.headers.emplace_back("Allow", server_.router.allowedMethods(request->path));
            responder.send(std::move(r));
            return;
        }
        request->route = static_cast<int>(route - server_.router.routes().data());
        if (route->authenticated && server_.authenticator) {
            if (auto refusal = server_.authenticator(*request)) {
                responder.send(std::move(*refusal));
                return;
            }
        }
        if (auto refusal = route->access.check(*request)) {  // the route's role, in one place
            responder.send(std::move(*refusal));
            return;
        }
        try {
            route->handler(request, responder);
        } catch (const std::exception& e) {
            logger().error("handler for %s failed: %s", std::string(request->path), std::string(e.what()));
            responder.send(problem(500, "internal error; request id " + request->requestId));
        } catch (...) {
            logger().error("handler for %s threw something that is not a std::exception", std::string(request->path));
            responder.send(problem(500, "internal error; request id " + request->requestId));
        }
    }

    void write(Response r) { writeRaw(std::move(r), true); }

    void writeRaw(Response r, bool counted) {
        const bool keepAlive = keepAlive_ && !server_.stopping;
        formatHead(r, keepAlive);
        body_ = std::move(r.body);
        auto elapsed = std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - started_);
        if (server_.observer && current_) {
            try {
                server_.observer(*current_, r.status, elapsed);
            } catch (...) {
            }
        }
        stream_.expires_after(server_.options.readTimeout);
        // Head and body in one gathered send; both live in the session until it ends.
        // An answer to HEAD is the head alone, its Content-Length that of the body.
        std::array<asio::const_buffer, 2> buffers{asio::buffer(head_),
                                                  headOnly_ ? asio::const_buffer() : asio::buffer(body_)};
        asio::async_write(stream_, buffers,
                          [self = shared_from_this(), keepAlive, counted](beast::error_code ec, std::size_t) {
                              if (counted) self->server_.requestDone();
                              self->current_.reset();
                              self->served_ = true;
                              if (ec) {
                                  self->close();
                                  return;
                              }
                              if (!keepAlive) {
                                  self->closeAfterAnswer();
                                  return;
                              }
                              self->read();
                          });
    }

    // The status line and headers, written straight into a buffer the session
    // keeps: Beast's fields and serializer cost an allocation per header and a
    // fifth of a plugin call's user CPU for what is a few fixed lines. Statuses
    // are never 1xx, 204 or 304, so every answer has a body and a Content-Length.
    // HEAD is routed as GET and answered with the GET's head, Content-Length
    // included; writeRaw leaves the body out (headOnly_).
    void formatHead(const Response& r, bool keepAlive) {
        head_.clear();
        head_ += version_ == 10 ? "HTTP/1.0 " : "HTTP/1.1 ";
        head_ += std::to_string(r.status);
        head_ += ' ';
        auto reason = http::obsolete_reason(static_cast<http::status>(r.status));
        head_.append(reason.data(), reason.size());
        head_ += "\r\nServer: campushub\r\nDate: ";
        head_ += httpDate();
        head_ += "\r\n";
        addHeader("Content-Type", r.contentType);
        if (current_) addHeader("X-Request-Id", current_->requestId);
        for (const auto& [name, value] : r.headers) addHeader(name, value);
        head_ += "Content-Length: ";
        head_ += std::to_string(r.body.size());
        if (!keepAlive)
            head_ += "\r\nConnection: close";
        else if (version_ == 10)
            head_ += "\r\nConnection: keep-alive";
        head_ += "\r\n\r\n";
    }

    // A line break in a name or value would let it forge headers or a second
    // response; such a header is left out (ours never have one).
    void addHeader(std::string_view name, std::string_view value) {
        if (name.empty() || name.find_first_of("\r\n:") != std::string_view::npos ||
            value.find_first_of("\r\n") != std::string_view::npos) {
            // Not the name itself: it would carry the line break into the log.
            logger().warning("left out a response header holding a line break");
            return;
        }
        head_.append(name);
        head_ += ": ";
        head_.append(value);
        head_ += "\r\n";
    }

    // After answering a request we stopped reading (413, 400), or with requests of
    // the client's still unread, closing at once would make the kernel reset the
    // connection, and a reset can destroy our answer before the client reads it.
    // nginx's lingering close: stop sending, then read and discard whatever comes,
    // up to lingerRead between reads and lingerTotal in all, with no byte cap (a
    // client sending a large body before reading gets its whole answer).
    void closeAfterAnswer() {
        beast::error_code ignored;
        if (!unreadInput_ && buffer_.size() == 0 && stream_.socket().available(ignored) == 0 && !ignored) {
            close();
            return;
        }
        stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
        lingerUntil_ = std::chrono::steady_clock::now() + server_.options.lingerTotal;
        drain();
    }

    void drain() {
        const auto left = lingerUntil_ - std::chrono::steady_clock::now();
        if (left <= std::chrono::steady_clock::duration::zero()) {
            stream_.close();
            return;
        }
        stream_.expires_after(std::min<std::chrono::steady_clock::duration>(left, server_.options.lingerRead));
        if (!drainBuffer_) drainBuffer_ = std::make_unique<char[]>(kDrainChunk);
        stream_.async_read_some(asio::buffer(drainBuffer_.get(), kDrainChunk),
                                [self = shared_from_this()](beast::error_code ec, std::size_t) {
                                    if (ec) {
                                        self->stream_.close();
                                        return;
                                    }
                                    self->drain();
                                });
    }

    void close() {
        beast::error_code ignored;
        stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
        stream_.close();
    }

    friend class hub::api::Responder;
    friend struct hub::api::Responder::State;

    beast::tcp_stream stream_;
    HttpServer::Impl& server_;
    beast::flat_buffer buffer_;
    std::optional<http::request_parser<http::string_body>> parser_;
    RequestPtr current_;
    std::chrono::steady_clock::time_point started_;
    unsigned version_ = 11;
    bool keepAlive_ = true;
    bool served_ = false;
    bool headOnly_ = false;     // answering HEAD: no body goes out
    bool unreadInput_ = false;  // a request was refused before its end was read
    static constexpr std::size_t kDrainChunk = 16 * 1024;
    std::unique_ptr<char[]> drainBuffer_;
    std::chrono::steady_clock::time_point lingerUntil_;
    std::string head_;  // of the answer being written; its capacity is kept for the next
    std::string body_;
};

Responder::State::State(std::shared_ptr<Session> s, asio::any_io_executor e)
    : executor(std::move(e)), session(std::move(s)) {}

// Every Responder of a request dropped without an answer (a handler that forgot,
// or a completion that threw and unwound): the client gets a 500 rather than a
// silent close, and the request stops counting as in flight.
Responder::State::~State() {
    if (sent.load() || !session || session->server_.loopsStopped) return;
    try {
        session->deliver(problem(500, "internal error: the request was dropped unanswered"));
    } catch (...) {
    }
}

bool Responder::send(Response response) const {
    if (state_->sent.exchange(true)) return false;
    // Only the winner of the exchange gets here: nobody else reads or writes session.
    auto session = std::move(state_->session);
    std::shared_ptr<asio::steady_timer> timer;
    {
        std::lock_guard lock(state_->timerMutex);
        timer.swap(state_->timer);
    }
    // Free the timer (and the request it keeps) now rather than when it expires.
    session->deliver(std::move(response), std::move(timer));
    return true;
}

bool Responder::sent() const { return state_->sent.load(); }

void Responder::after(std::chrono::milliseconds delay, std::function<void()> fn) const {
    if (state_->sent.load()) return;
    auto timer = std::make_shared<asio::steady_timer>(state_->executor, delay);
    {
        std::lock_guard lock(state_->timerMutex);
        state_->timer = timer;
    }
    timer->async_wait([timer, state = state_, fn = std::move(fn)](beast::error_code ec) {
        {
            std::lock_guard lock(state->timerMutex);
            if (state->timer == timer) state->timer.reset();
        }
        if (!ec && !state->sent.load()) fn();
    });
    if (state_->sent.load()) {
        // Answered while we armed it: nobody else will cancel it.
        std::lock_guard lock(state_->timerMutex);
        if (state_->timer == timer) {
            state_->timer.reset();
            asio::post(timer->get_executor(), [timer] { timer->cancel(); });
        }
    }
}

void HttpServer::Impl::accept() {
    asio::io_context& loop = *loops[nextLoop++ % loops.size()];
    acceptor->async_accept(loop, [this](beast::error_code ec, tcp::socket socket) {
        if (ec) {
            if (ec == asio::error::operation_aborted || stopping) return;
            acceptFailed(ec);
            if (isResourceExhaustion(ec)) {
                // The connection waits in the listen queue; try again in a while.
                acceptPause->expires_after(options.acceptBackoff);
                acceptPause->async_wait([this](beast::error_code waited) {
                    if (!waited && !stopping) accept();
                });
                return;
            }
        } else {
            socket.set_option(tcp::no_delay(true), ec);
            auto session = std::make_shared<Session>(std::move(socket), *this);
            if (connections.load() > options.maxConnections)
                session->refuseOverload();
            else
                session->start();
        }
        if (!stopping) accept();
    });
}

// One line at the first failure, then at most one every 10 s with the count.
void HttpServer::Impl::acceptFailed(const beast::error_code& ec) {
    ++acceptFailures;
    const auto now = std::chrono::steady_clock::now();
    if (acceptLogged != std::chrono::steady_clock::time_point{} && now - acceptLogged < std::chrono::seconds(10))
        return;
    logger().warning("accept failed %Lu time(s): %s%s", static_cast<Poco::UInt64>(acceptFailures), ec.message(),
                     std::string(isResourceExhaustion(ec) ? "; not accepting for a while" : ""));
    acceptLogged = now;
    acceptFailures = 0;
}

HttpServer::HttpServer(Options options, const Router& router)
    : impl_(std::make_unique<Impl>(std::move(options), router)) {}

HttpServer::~HttpServer() { stop(std::chrono::milliseconds(0)); }

void HttpServer::setAuthenticator(Authenticator authenticator) { impl_->authenticator = std::move(authenticator); }
void HttpServer::setObserver(Observer observer) { impl_->observer = std::move(observer); }

void HttpServer::start() {
    auto address = asio::ip::make_address(impl_->options.address);
    tcp::endpoint endpoint(address, impl_->options.port);
    std::size_t n = std::max<std::size_t>(1, impl_->options.ioThreads);
    for (std::size_t i = 0; i < n; ++i) {
        impl_->loops.push_back(std::make_unique<asio::io_context>(1));
        impl_->keepRunning.push_back(asio::make_work_guard(*impl_->loops.back()));
    }
    impl_->acceptor.emplace(*impl_->loops.front());
    impl_->acceptPause.emplace(*impl_->loops.front());
    impl_->acceptor->open(endpoint.protocol());
    impl_->acceptor->set_option(asio::socket_base::reuse_address(true));
    impl_->acceptor->bind(endpoint);
    impl_->acceptor->listen(asio::socket_base::max_listen_connections);
    impl_->boundPort = impl_->acceptor->local_endpoint().port();
    impl_->accept();
    for (std::size_t i = 0; i < n; ++i)
        impl_->threads.emplace_back([this, i] {
            pthread_setname_np(pthread_self(), "http-io");
            // Handlers may start fibers on this loop (plugin calls of execution
            // "loop"); those still parked when it stops end here.
            hub::runtime::Loop::Options fiberOptions;
            fiberOptions.stackBytes = impl_->options.fiberStackBytes;
            hub::runtime::Loop fibers(*impl_->loops[i], fiberOptions);
            // An exception out of a handler or completion ends only that handler:
            // run() rethrows it here, and the loop resumes with everything else it
            // had (asio allows run() again without restart()).
            for (;;) {
                try {
                    impl_->loops[i]->run();
                    return;
                } catch (const std::exception& e) {
                    logger().error("I/O thread: a completion threw: %s; serving on", std::string(e.what()));
                } catch (...) {
                    logger().error("I/O thread: a completion threw something that is not a std::exception; serving on");
                }
            }
        });
    logger().information("listening on http://%s:%hu/", impl_->options.address, impl_->boundPort);
}

void HttpServer::stop(std::chrono::milliseconds drainTimeout) {
    if (impl_->threads.empty()) return;
    impl_->stopping = true;
    asio::post(*impl_->loops.front(), [this] {
        beast::error_code ignored;
        if (impl_->acceptor) impl_->acceptor->close(ignored);
        if (impl_->acceptPause) impl_->acceptPause->cancel();
    });
    {
        std::unique_lock lock(impl_->drainMutex);
        impl_->drained.wait_for(lock, drainTimeout, [this] { return impl_->inFlight.load() == 0; });
    }
    if (impl_->inFlight.load() != 0)
        logger().warning("stopping with %z requests still in flight", impl_->inFlight.load());
    impl_->loopsStopped = true;
    for (auto& loop : impl_->loops) loop->stop();
    for (auto& t : impl_->threads) t.join();
    impl_->threads.clear();
    impl_->keepRunning.clear();
}

std::uint16_t HttpServer::port() const { return impl_->boundPort; }
std::size_t HttpServer::inFlight() const { return impl_->inFlight.load(); }

bool HttpServer::heartbeat() {
    if (impl_->threads.empty() || impl_->loopsStopped) return false;
    if (impl_->heartbeatsPending->load() != 0) return false;  // a loop is stuck (or very busy)
    impl_->heartbeatsPending->store(impl_->loops.size());
    // The counter is shared: a loop stopped with the no-op still queued must not
    // touch a destroyed Impl.
    for (auto& loop : impl_->loops)
        asio::post(*loop, [pending = impl_->heartbeatsPending] { pending->fetch_sub(1); });
    return true;
}

}  // namespace hub::api
