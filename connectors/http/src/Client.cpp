#include "hub/http/Client.h"

#include "hub/runtime/Loop.h"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/basic_parser.hpp>
#include <boost/beast/http/read.hpp>

#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>

#include <array>
#include <cctype>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <thread>
#include <vector>

using hub::runtime::Loop;  // the client parks its caller on the runtime's fibers

namespace hub::http {

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using boost::system::error_code;
using Clock = std::chrono::steady_clock;

bool idempotent(std::string_view method) {
    return method == "GET" || method == "HEAD" || method == "PUT" || method == "DELETE" ||
           method == "OPTIONS";
}

bool isToken(std::string_view s) {
    if (s.empty()) return false;
    for (unsigned char c : s)
        if (c <= 0x20 || c >= 0x7F || std::strchr("()<>@,;:\\\"/[]?={}", c)) return false;
    return true;
}

bool equalsIgnoringCase(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i)
        if (std::tolower(static_cast<unsigned char>(a[i])) != b[i]) return false;
    return true;
}

// Framing and connection management are the client's: a plugin that set them
// could split one request into two on a kept-alive connection (smuggling).
bool reservedHeader(std::string_view name) {
    for (std::string_view h : {"content-length", "transfer-encoding", "connection", "keep-alive", "upgrade", "te",
                               "host", "proxy-connection", "trailer"})
        if (equalsIgnoringCase(name, h)) return true;
    return false;
}

// Appends the plugin's header lines ("Name: value\r\n"...) to the request's head,
// checked, and without the ones the client owns.
void appendHeaders(std::string& out, std::string_view headers) {
    while (!headers.empty()) {
        auto end = headers.find("\r\n");
        std::string_view line = headers.substr(0, end);
        headers = end == std::string_view::npos ? std::string_view{} : headers.substr(end + 2);
        if (line.empty()) continue;
        if (line.find_first_of("\r\n") != std::string_view::npos)
            throw RequestError(Failure::BadRequest, "a request header holds a bare CR or LF");
        auto colon = line.find(':');
        if (colon == std::string_view::npos || !isToken(line.substr(0, colon)))
            throw RequestError(Failure::BadRequest, "malformed request header '" + std::string(line.substr(0, 64)) + "'");
        if (reservedHeader(line.substr(0, colon))) continue;
        std::string_view value = line.substr(colon + 1);
        while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
        out.append(line.data(), colon);
        out += ": ";
        out.append(value);
        out += "\r\n";
    }
}

// An absolute http(s) URL taken apart for the request line, the Host header,
// the connection pool and the resolver.
struct ParsedUrl {
    bool https = false;
    std::string host;    // without the brackets of an IPv6 literal
    unsigned short port = 0;
    std::string target;  // path and query, as they go in the request line
};

bool isHex(char c) { return std::isxdigit(static_cast<unsigned char>(c)) != 0; }

// Parsed by hand rather than with Poco::URI, which was a sixth of the client's
// CPU per call and lenient where a request must not be (user info, ports past
// 65535 wrap). The path and query go out as the plugin wrote them (Poco decoded
// and re-encoded them, turning %2F into a slash); only bytes that may not appear
// in a request line are percent-encoded, e.g. UTF-8 in a path.
ParsedUrl checkedUrl(std::string_view url) {
    if (url.find_first_of(" \t\r\n") != std::string_view::npos)
        throw RequestError(Failure::BadRequest, "URL holds white space");
    auto schemeEnd = url.find("://");
    if (schemeEnd == std::string_view::npos) throw RequestError(Failure::BadRequest, "URL needs http:// or https://");
    ParsedUrl parsed;
    std::string_view scheme = url.substr(0, schemeEnd);
    if (equalsIgnoringCase(scheme, "https"))
        parsed.https = true;
    else if (!equalsIgnoringCase(scheme, "http"))
        throw RequestError(Failure::BadRequest, "only http and https URLs are supported");
    std::string_view rest = url.substr(schemeEnd + 3);
    std::string_view authority = rest.substr(0, rest.find_first_of("/?#"));
    if (authority.empty() || authority.find('@') != std::string_view::npos)
        throw RequestError(Failure::BadRequest, "URL needs a host and no user info");

    std::string_view host, port;
    bool hasPort = false;
    if (authority.front() == '[') {
        auto close = authority.find(']');
        if (close == std::string_view::npos) throw RequestError(Failure::BadRequest, "unclosed [ in the URL's host");
        host = authority.substr(1, close - 1);
        std::string_view after = authority.substr(close + 1);
        if (!after.empty() && after.front() != ':') throw RequestError(Failure::BadRequest, "bad port in URL");
        hasPort = !after.empty();
        if (hasPort) port = after.substr(1);
    } else {
        auto colon = authority.rfind(':');
        host = authority.substr(0, colon);
        hasPort = colon != std::string_view::npos;
        if (hasPort) port = authority.substr(colon + 1);
    }
    if (host.empty()) throw RequestError(Failure::BadRequest, "URL needs a host");
    // A colon belongs only in a bracketed IPv6 literal ("http://::1/" is not one).
    if (authority.front() != '[' && host.find(':') != std::string_view::npos)
        throw RequestError(Failure::BadRequest, "an IPv6 host must be in brackets");
    for (unsigned char c : host)
        if (c <= 0x20 || c >= 0x7F || std::strchr("\"<>\\^`{|}/?#[]", c))
            throw RequestError(Failure::BadRequest, "the URL's host holds a character it may not");
    parsed.host = host;
    parsed.port = parsed.https ? 443 : 80;
    if (hasPort) {
        unsigned value = 0;
        for (char c : port) value = value * 10 + static_cast<unsigned>(c - '0');
        if (port.empty() || port.size() > 5 || port.find_first_not_of("0123456789") != std::string_view::npos ||
            value == 0 || value > 65535)
            throw RequestError(Failure::BadRequest, "bad port in URL");
        parsed.port = static_cast<unsigned short>(value);
    }

    std::string_view target = rest.substr(authority.size());
    target = target.substr(0, target.find('#'));  // a fragment is the client's own
    if (target.empty() || target.front() == '?') parsed.target = "/";
    static constexpr char kHex[] = "0123456789ABCDEF";
    for (std::size_t i = 0; i < target.size(); ++i) {
        unsigned char c = static_cast<unsigned char>(target[i]);
        if (c == '%') {
            if (i + 2 >= target.size() || !isHex(target[i + 1]) || !isHex(target[i + 2]))
                throw RequestError(Failure::BadRequest, "bad percent-encoding in URL");
        }
        if (c < 0x21 || c >= 0x7F || std::strchr("\"<>\\^`{|}", c)) {
            parsed.target += '%';
            parsed.target += kHex[c >> 4];
            parsed.target += kHex[c & 0xF];
        } else {
            parsed.target += static_cast<char>(c);
        }
    }
    return parsed;
}

// On a Loop's fiber: parks it until the operation that start(done) begins on
// the loop calls done(error), or until the deadline, when cancel() stops the
// operation. Two handlers, the operation's and the deadline's; the fiber goes
// on when both have run, so neither can touch this frame after it is gone.
// Returns the operation's error, timed_out, or operation_aborted when the loop
// is going away.
template <class Executor, class Start, class Cancel>
error_code parkFiber(const Executor& executor, Clock::time_point deadline, Start start, Cancel cancel) {
    Loop::Fiber* self = Loop::running();
    if (!self || Loop::aborted(self)) return asio::error::operation_aborted;
    if (Clock::now() >= deadline) return asio::error::timed_out;
    asio::steady_timer timer(executor, deadline);
    int pending = 2;
    bool late = false;
    error_code opError;
    auto oneDone = [&] {
        if (--pending == 0) Loop::resume(self);
    };
    start([&](error_code e) {
        opError = e;
        timer.cancel();
        oneDone();
    });
    timer.async_wait([&](error_code e) {
        if (!e) {
            late = true;
            cancel();
        }
        oneDone();
    });
    Loop::suspend();
    if (Loop::aborted(self)) return asio::error::operation_aborted;
    if (late) return asio::error::timed_out;
    return opError;
}

// Host name lookups bounded by the request's deadline. getaddrinfo takes no
// deadline and cannot be cancelled (a DNS server that never answers holds it
// for the resolver's own timeouts, times its attempts, times its servers), so
// it runs on a thread of the resolver's and the request waits for the answer
// only until its deadline; a lookup that answers later is thrown away. Up to
// kMaxThreads lookups run at once, so one hanging name does not hold up the
// others; threads idle for kIdleExit go away. The threads are detached and
// share this state, so a client can be destroyed while a lookup still hangs.
class Resolver {
public:
    // One lookup, shared by the request that waits and the thread that runs it.
    struct Lookup {
        std::string host, service;
        std::mutex mutex;
        std::condition_variable finished;
        bool done = false;
        int rc = 0;
        int systemErrno = 0;
        std::vector<asio::ip::tcp::endpoint> endpoints;
        std::function<void()> onDone;  // a parked fiber's wake-up; taken once, under mutex
    };

    explicit Resolver(Client::Options::LookUp lookUp) : state_(std::make_shared<State>()) {
        state_->lookUp = lookUp ? lookUp : &::getaddrinfo;
    }

    // The endpoints of host:port, or RequestError (Timeout once deadline passes).
    std::vector<asio::ip::tcp::endpoint> resolve(Loop* loop, const std::string& host, unsigned short port,
                                                 Clock::time_point deadline, const std::string& origin) {
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

private:
    static constexpr std::size_t kMaxThreads = 16;
    static constexpr std::chrono::seconds kIdleExit{30};

    struct State {
        Client::Options::LookUp lookUp = nullptr;
        std::mutex mutex;
        std::condition_variable work;
        std::deque<std::shared_ptr<Lookup>> queue;
        std::size_t threads = 0;
        std::size_t idle = 0;
    };

    void start(const std::shared_ptr<Lookup>& lookup) {
        std::lock_guard lock(state_->mutex);
        state_->queue.push_back(lookup);
        if (state_->queue.size() > state_->idle && state_->threads < kMaxThreads) {
            ++state_->threads;
            std::thread([state = state_] { serve(*state); }).detach();
        } else {
            state_->work.notify_one();
        }
    }

    static void serve(State& state) {
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

    static void run(Client::Options::LookUp lookUp, Lookup& lookup) noexcept {
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

    std::shared_ptr<State> state_;
};

// A TCP socket whose blocking reads and writes give up at a deadline. The socket is
// non-blocking. On a plain thread every wait is one poll() for the time left, so a
// request costs the send, a poll and a receive, with no thread or timer of its
// own. On a Loop's fiber (the socket then belongs to that loop) a wait parks the
// fiber until the loop sees the socket ready or the deadline pass. Beast (and
// asio::ssl above it) drive it as an ordinary synchronous stream either way.
class DeadlineSocket {
public:
    using executor_type = asio::ip::tcp::socket::executor_type;
    using lowest_layer_type = asio::ip::tcp::socket::lowest_layer_type;

    DeadlineSocket(asio::io_context& io, bool onLoop) : socket_(io), onLoop_(onLoop) {}

    executor_type get_executor() { return socket_.get_executor(); }
    lowest_layer_type& lowest_layer() { return socket_.lowest_layer(); }
    const lowest_layer_type& lowest_layer() const { return socket_.lowest_layer(); }

    void setDeadline(Clock::time_point deadline) { deadline_ = deadline; }

    // asio's own synchronous connect waits without a limit: connect, then poll.
    void connect(const asio::ip::tcp::endpoint& endpoint, error_code& ec) {
        if (socket_.is_open()) socket_.close(ec);
        socket_.open(endpoint.protocol(), ec);
        if (!ec) socket_.non_blocking(true, ec);
        if (!ec) socket_.set_option(asio::ip::tcp::no_delay(true), ec);
        if (ec) return;
        if (::connect(socket_.native_handle(), endpoint.data(), static_cast<socklen_t>(endpoint.size())) == 0) return;
        if (errno != EINPROGRESS) {
            ec = error_code(errno, boost::system::system_category());
            return;
        }
        if (!wait(POLLOUT, ec)) return;
        int err = 0;
        socklen_t len = sizeof err;
        ::getsockopt(socket_.native_handle(), SOL_SOCKET, SO_ERROR, &err, &len);
        if (err) ec = error_code(err, boost::system::system_category());
    }

    template <class MutableBuffers>
    std::size_t read_some(const MutableBuffers& buffers, error_code& ec) {
        if (onLoop_) {
            // The read itself, not a wait and a read: asio tries it at once and
            // otherwise leaves it to the loop, without re-arming epoll as an
            // async_wait would (an epoll_ctl per call).
            std::size_t n = 0;
            parkOnLoop(
                [&](auto done) {
                    socket_.async_read_some(buffers, [&n, done](error_code e, std::size_t got) mutable {
                        n = got;
                        done(e);
                    });
                },
                ec);
            return n;
        }
        // Wait first: right after a request goes out, the answer is not there yet.
        for (;;) {
            if (!wait(POLLIN, ec)) return 0;
            std::size_t n = socket_.read_some(buffers, ec);
            if (ec != asio::error::would_block && ec != asio::error::try_again) return n;
        }
    }
    template <class MutableBuffers>
    std::size_t read_some(const MutableBuffers& buffers) {
        error_code ec;
        return orThrow(read_some(buffers, ec), ec);
    }

    template <class ConstBuffers>
    std::size_t write_some(const ConstBuffers& buffers, error_code& ec) {
        for (;;) {
            std::size_t n = socket_.write_some(buffers, ec);
            if (ec != asio::error::would_block && ec != asio::error::try_again) return n;
            if (!wait(POLLOUT, ec)) return 0;
        }
    }
    template <class ConstBuffers>
    std::size_t write_some(const ConstBuffers& buffers) {
        error_code ec;
        return orThrow(write_some(buffers, ec), ec);
    }

private:
    // The throwing forms of the stream concepts.
    static std::size_t orThrow(std::size_t n, const error_code& ec) {
        if (ec) throw boost::system::system_error(ec);
        return n;
    }

    bool wait(short events, error_code& ec) {
        if (onLoop_) return waitOnLoop(events, ec);
        for (;;) {
            auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline_ - Clock::now()).count();
            if (left <= 0) {
                ec = asio::error::timed_out;
                return false;
            }
            pollfd p{socket_.native_handle(), events, 0};
            int ready = ::poll(&p, 1, static_cast<int>(std::min<long long>(left, 1 << 30)));
            if (ready > 0) return true;  // errors and hang-ups surface in the read or write
            if (ready < 0 && errno != EINTR) {
                ec = error_code(errno, boost::system::system_category());
                return false;
            }
        }
    }

    bool waitOnLoop(short events, error_code& ec) {
        return parkOnLoop(
            [&](auto done) {
                socket_.async_wait(events == POLLIN ? asio::socket_base::wait_read : asio::socket_base::wait_write,
                                   std::move(done));
            },
            ec);
    }

    template <class Start>
    bool parkOnLoop(Start start, error_code& ec) {
        ec = parkFiber(socket_.get_executor(), deadline_, std::move(start), [this] { socket_.cancel(); });
        return !ec;
    }

    asio::ip::tcp::socket socket_;
    bool onLoop_;
    Clock::time_point deadline_{};
};

// One kept-alive connection to an origin, with its read buffer (bytes past an
// answer would belong to the next one; a connection that has any is not reused).
struct Connection {
    Connection(asio::io_context& io, bool onLoop) : socket(io, onLoop) {}
    DeadlineSocket socket;
    std::optional<asio::ssl::stream<DeadlineSocket&>> tls;
    beast::flat_buffer buffer;
    Clock::time_point idleSince;
};

enum class Outcome { Done, Stale };

// Reads an answer straight into a Response: the header lines appended as they
// come and the body likewise. Beast's response_parser kept every header in
// basic_fields (an allocation each) for us to copy them out again; the framing
// (Content-Length, chunked, up to EOF, the limits) is still basic_parser's.
class ResponseReader : public bhttp::basic_parser<false> {
public:
    explicit ResponseReader(Response& out) : out_(out) {
        out_.headers.clear();
        out_.body.clear();
    }
    unsigned status() const { return status_; }

private:
    void on_request_impl(bhttp::verb, beast::string_view, beast::string_view, int, error_code&) override {}
    void on_response_impl(int code, beast::string_view, int, error_code&) override {
        status_ = static_cast<unsigned>(code);
    }
    void on_field_impl(bhttp::field, beast::string_view name, beast::string_view value, error_code&) override {
        out_.headers.append(name.data(), name.size());
        out_.headers += ": ";
        out_.headers.append(value.data(), value.size());
        out_.headers += "\r\n";
    }
    void on_header_impl(error_code&) override {}
    void on_body_init_impl(const boost::optional<std::uint64_t>& length, error_code&) override {
        // Within body_limit: a longer Content-Length fails in read_header, before this.
        if (length) out_.body.reserve(static_cast<std::size_t>(*length));
    }
    std::size_t on_body_impl(beast::string_view part, error_code&) override {
        out_.body.append(part.data(), part.size());
        return part.size();
    }
    void on_chunk_header_impl(std::uint64_t, beast::string_view, error_code&) override {}
    std::size_t on_chunk_body_impl(std::uint64_t, beast::string_view part, error_code&) override {
        out_.body.append(part.data(), part.size());
        return part.size();
    }
    void on_finish_impl(error_code&) override {}

    Response& out_;
    unsigned status_ = 0;
};

// Writes the request and reads its answer (skipping interim 1xx answers).
// Stale: the connection failed before a byte of the answer came back.
template <class Stream>
Outcome exchange(Stream& stream, Connection& c, const std::string& requestHead, std::string_view body, bool head,
                 std::size_t maxBody, Response& result, bool& reusable, error_code& ec) {
    asio::write(stream, std::array<asio::const_buffer, 2>{asio::buffer(requestHead), asio::buffer(body.data(), body.size())},
                ec);
    if (ec) return Outcome::Stale;
    for (bool first = true;; first = false) {
        ResponseReader parser(result);
        parser.header_limit(64 * 1024);
        parser.body_limit(maxBody);
        if (head) parser.skip(true);
        // The head first: Boost 1.74's parser, reading head and body in one eager
        // pass, drops the body_limit error of a too-large Content-Length.
        bhttp::read_header(stream, c.buffer, parser, ec);
        if (!ec && !parser.is_done()) bhttp::read(stream, c.buffer, parser, ec);
        if (ec) {
            bool nothing = first && (ec == bhttp::error::end_of_stream || ec == asio::error::connection_reset ||
                                     ec == asio::error::eof);
            return nothing ? Outcome::Stale : Outcome::Done;
        }
        unsigned status = parser.status();
        if (status >= 100 && status < 200 && status != 101) continue;
        // Beast reads any three digits; RFC 9110 knows 100-599 (and a 0 would
        // look like "no answer" to a plugin).
        if (status < 100 || status > 599) {
            ec = bhttp::error::bad_status;
            return Outcome::Done;
        }
        result.status = static_cast<int>(status);
        reusable = parser.keep_alive() && !parser.need_eof() && c.buffer.size() == 0;
        return Outcome::Done;
    }
}

}  // namespace

// Idle connections by origin. A thread caller's pool is shared under a lock; a
// Loop's is its own (its sockets are registered with that loop) and needs none.
using IdlePool = std::map<std::string, std::vector<std::unique_ptr<Connection>>, std::less<>>;

struct Client::Impl {
    Options options;
    std::unique_ptr<Resolver> resolver;
    // Never run: thread callers' sockets need an executor, but their operations
    // are all synchronous.
    asio::io_context io;
    asio::ssl::context tls{asio::ssl::context::tls_client};
    std::mutex mutex;
    IdlePool idle;
    std::vector<std::weak_ptr<IdlePool>> loopPools;  // under mutex

    // Idle connections close with the client, on loops as well (no request may
    // run when it is destroyed, so no loop is using them).
    ~Impl() {
        for (auto& weak : loopPools)
            if (auto pool = weak.lock()) pool->clear();
    }

    IdlePool& idleOn(Loop& loop) {
        auto& state = loop.local(this);
        if (!state) {
            auto pool = std::make_shared<IdlePool>();
            std::lock_guard lock(mutex);
            loopPools.push_back(pool);
            state = std::move(pool);
        }
        return *static_cast<IdlePool*>(state.get());
    }

    std::unique_ptr<Connection> takeIdle(IdlePool& pool, const std::string& origin) {
        auto it = pool.find(origin);
        if (it == pool.end()) return nullptr;
        auto now = Clock::now();
        while (!it->second.empty()) {
            auto c = std::move(it->second.back());
            it->second.pop_back();
            if (now - c->idleSince < options.idleTimeout) return c;
        }
        return nullptr;
    }

    std::unique_ptr<Connection> takeIdle(Loop* loop, const std::string& origin) {
        if (loop) return takeIdle(idleOn(*loop), origin);
        std::lock_guard lock(mutex);
        return takeIdle(idle, origin);
    }

    void giveBack(Loop* loop, const std::string& origin, std::unique_ptr<Connection> c) {
        c->idleSince = Clock::now();
        auto keep = [&](IdlePool& pool) {
            auto& list = pool[origin];
            if (list.size() < options.maxIdlePerOrigin) list.push_back(std::move(c));
        };
        if (loop) return keep(idleOn(*loop));
        std::lock_guard lock(mutex);
        keep(idle);
    }

    // An address needs no lookup; a name is looked up by the resolver, within
    // the deadline, without blocking a loop (a fiber is parked meanwhile).
    std::vector<asio::ip::tcp::endpoint> resolve(Loop* loop, const ParsedUrl& url, Clock::time_point deadline,
                                                 const std::string& origin) {
        error_code ec;
        auto address = asio::ip::make_address(url.host, ec);
        if (!ec) return {asio::ip::tcp::endpoint(address, url.port)};
        return resolver->resolve(loop, url.host, url.port, deadline, origin);
    }

    std::unique_ptr<Connection> open(Loop* loop, const ParsedUrl& url, Clock::time_point deadline,
                                     const std::string& origin) {
        auto endpoints = resolve(loop, url, deadline, origin);
        auto c = std::make_unique<Connection>(loop ? loop->context() : io, loop != nullptr);
        c->socket.setDeadline(deadline);
        error_code ec = asio::error::host_not_found;
        for (const auto& endpoint : endpoints) {
            c->socket.connect(endpoint, ec);
            if (!ec || ec == asio::error::timed_out || ec == asio::error::operation_aborted) break;
        }
        if (ec == asio::error::timed_out) throw RequestError(Failure::Timeout, "no connection to " + origin + " in time");
        if (ec) throw RequestError(Failure::Unavailable, origin + ": " + ec.message());
        if (url.https) {
            c->tls.emplace(c->socket, tls);
            // SNI, and the certificate must name the host. SSL_set_tlsext_host_name, without the macro's C cast.
            if (!SSL_ctrl(c->tls->native_handle(), SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
                          const_cast<char*>(url.host.c_str())))
                throw RequestError(Failure::Unavailable, origin + ": cannot set the TLS server name");
            c->tls->set_verify_callback(asio::ssl::host_name_verification(url.host));
            c->tls->handshake(asio::ssl::stream_base::client, ec);
            if (ec == asio::error::timed_out)
                throw RequestError(Failure::Timeout, "no TLS handshake with " + origin + " in time");
            if (ec) throw RequestError(Failure::Unavailable, origin + ": TLS: " + ec.message());
        }
        return c;
    }
};

Client::Client() : Client(Options{}) {}
Client::Client(const Options& options) : impl_(std::make_unique<Impl>()) {
    impl_->options = options;
    impl_->resolver = std::make_unique<Resolver>(options.lookUp);
    boost::system::error_code ec;
    if (options.caFile.empty()) impl_->tls.set_default_verify_paths(ec);
    else impl_->tls.load_verify_file(options.caFile, ec);
    if (ec) throw std::invalid_argument("cannot load the CA file '" + options.caFile + "': " + ec.message());
    impl_->tls.set_verify_mode(asio::ssl::verify_peer);
}
Client::~Client() = default;

Response Client::request(std::string_view method, std::string_view url, std::string_view headers,
                         std::string_view body, std::chrono::milliseconds timeout) {
    if (!isToken(method)) throw RequestError(Failure::BadRequest, "bad HTTP method");
    const ParsedUrl parsed = checkedUrl(url);
    if (timeout.count() <= 0) throw RequestError(Failure::Timeout, "deadline already passed");
    const auto deadline = Clock::now() + timeout;

    const std::string& host = parsed.host;
    std::string origin = (parsed.https ? "https://" : "http://") + host + ":" + std::to_string(parsed.port);
    const std::string& target = parsed.target;

    // The head is formatted here rather than by Beast's fields and serializer,
    // which allocated per header; head and body go out in one gathered write.
    std::string requestHead;
    requestHead.reserve(128 + target.size() + headers.size());
    requestHead.append(method);
    requestHead += ' ';
    requestHead += target;
    requestHead += " HTTP/1.1\r\nHost: ";
    if (host.find(':') != std::string::npos) {
        requestHead += '[';
        requestHead += host;
        requestHead += ']';
    } else {
        requestHead += host;
    }
    if (parsed.port != (parsed.https ? 443 : 80)) {
        requestHead += ':';
        requestHead += std::to_string(parsed.port);
    }
    requestHead += "\r\n";
    appendHeaders(requestHead, headers);
    if (!body.empty() || method == "POST" || method == "PUT" || method == "PATCH") {
        requestHead += "Content-Length: ";
        requestHead += std::to_string(body.size());
        requestHead += "\r\n";
    }
    requestHead += "\r\n";
    const bool head = method == "HEAD";

    // On a Loop's fiber the request parks the fiber instead of blocking the thread.
    Loop* loop = Loop::running() ? Loop::current() : nullptr;

    // A pooled connection the server has closed fails on first use; retry once on
    // a fresh one when that cannot repeat a side effect.
    for (int attempt = 0;; ++attempt) {
        auto connection = impl_->takeIdle(loop, origin);
        const bool reused = connection != nullptr;
        if (!connection) connection = impl_->open(loop, parsed, deadline, origin);
        connection->socket.setDeadline(deadline);
        Response result;
        bool reusable = false;
        error_code ec;
        Outcome outcome =
            connection->tls
                ? exchange(*connection->tls, *connection, requestHead, body, head, impl_->options.maxResponseBytes,
                           result, reusable, ec)
                : exchange(connection->socket, *connection, requestHead, body, head,
                           impl_->options.maxResponseBytes, result, reusable, ec);
        if (!ec) {
            if (reusable) impl_->giveBack(loop, origin, std::move(connection));
            return result;
        }
        if (ec == asio::error::timed_out) throw RequestError(Failure::Timeout, "no whole answer from " + origin + " in time");
        if (ec == asio::error::operation_aborted && loop)
            throw RequestError(Failure::Unavailable, origin + ": the event loop stopped");
        if (outcome == Outcome::Stale && reused && attempt == 0 && idempotent(method)) continue;
        if (ec == bhttp::error::body_limit) throw RequestError(Failure::Unavailable, "response larger than the limit");
        if (ec == bhttp::error::partial_message)
            throw RequestError(Failure::Unavailable, origin + ": the answer was cut short");
        throw RequestError(Failure::Unavailable, origin + ": " + ec.message());
    }
}

}  // namespace hub::http
