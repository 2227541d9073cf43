#include "hub/http/Client.h"

#include "hub/runtime/Loop.h"
#include "hub/http/Url.h"

#include "DeadlineSocket.h"
#include "Exchange.h"
#include "Resolver.h"

#include <boost/asio/ssl.hpp>
#include <boost/beast/http/error.hpp>

#include <map>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <vector>

namespace hub::http {

namespace {

namespace asio = boost::asio;
namespace bhttp = boost::beast::http;
using boost::system::error_code;
using Clock = std::chrono::steady_clock;
using detail::DeadlineSocket;

bool idempotent(std::string_view method) {
    return method == "GET" || method == "HEAD" || method == "PUT" || method == "DELETE" ||
           method == "OPTIONS";
}

// One kept-alive connection to an origin, with its read buffer (bytes past an
// answer would belong to the next one; a connection that has any is not reused).
struct Connection {
    Connection(asio::io_context& io, bool onLoop) : socket(io, onLoop) {}
    DeadlineSocket socket;
    std::optional<asio::ssl::stream<DeadlineSocket&>> tls;
    boost::beast::flat_buffer buffer;
    Clock::time_point idleSince;
};

}  // namespace

// Idle connections by origin. A thread caller's pool is shared under a lock; a
// Loop's is its own (its sockets are registered with that loop) and needs none.
using IdlePool = std::map<std::string, std::vector<std::unique_ptr<Connection>>, std::less<>>;

struct Client::Impl {
    Options options;
    std::unique_ptr<detail::Resolver> resolver;
    // Never run: thread callers' sockets need an executor, but their operations
    // are all synchronous.
    asio::io_context io;
    // Made on first https use: an OpenSSL 3 context with the system's CAs costs
    // about 20 ms of CPU (provider look-ups, parsing every PEM in the bundle),
    // which a plugin worker would pay at every (re)start for nothing if its
    // vendor speaks plain http. A configured caFile is loaded at construction,
    // so that a bad one is refused there.
    std::once_flag tlsMade;
    std::optional<asio::ssl::context> tlsContext;

    static asio::ssl::context makeTls(const std::string& caFile) {
        asio::ssl::context tls{asio::ssl::context::tls_client};
        error_code ec;
        if (caFile.empty()) tls.set_default_verify_paths(ec);
        else tls.load_verify_file(caFile, ec);
        if (ec) throw std::invalid_argument("cannot load the CA file '" + caFile + "': " + ec.message());
        tls.set_verify_mode(asio::ssl::verify_peer);
        return tls;
    }

    asio::ssl::context& tls() {
        try {
            std::call_once(tlsMade, [this] { tlsContext.emplace(makeTls(options.caFile)); });
        } catch (const std::invalid_argument& e) {
            throw RequestError(Failure::Unavailable, e.what());
        }
        return *tlsContext;
    }
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
    std::vector<asio::ip::tcp::endpoint> resolve(Loop* loop, const Url& url, Clock::time_point deadline,
                                                 const std::string& origin) {
        error_code ec;
        auto address = asio::ip::make_address(url.host, ec);
        if (!ec) return {asio::ip::tcp::endpoint(address, url.port)};
        return resolver->resolve(loop, url.host, url.port, deadline, origin);
    }

    std::unique_ptr<Connection> open(Loop* loop, const Url& url, Clock::time_point deadline,
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
            c->tls.emplace(c->socket, tls());
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
    impl_->resolver = std::make_unique<detail::Resolver>(options.lookUp);
    if (!options.caFile.empty())
        std::call_once(impl_->tlsMade, [this] { impl_->tlsContext.emplace(Impl::makeTls(impl_->options.caFile)); });
}
Client::~Client() = default;

Response Client::request(std::string_view method, std::string_view url, std::string_view headers,
                         std::string_view body, std::chrono::milliseconds timeout) {
    if (!detail::isToken(method)) throw RequestError(Failure::BadRequest, "bad HTTP method");
    const Url parsed = Url::parse(url);
    if (timeout.count() <= 0) throw RequestError(Failure::Timeout, "deadline already passed");
    const auto deadline = Clock::now() + timeout;
    const std::string origin = parsed.origin();
    const std::string requestHead = detail::formatRequestHead(method, parsed, headers, body.size());
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
        const std::size_t limit = impl_->options.maxResponseBytes;
        detail::Outcome outcome =
            connection->tls ? detail::exchange(*connection->tls, connection->buffer, requestHead, body, head, limit,
                                               result, reusable, ec)
                            : detail::exchange(connection->socket, connection->buffer, requestHead, body, head, limit,
                                               result, reusable, ec);
        if (!ec) {
            if (reusable) impl_->giveBack(loop, origin, std::move(connection));
            return result;
        }
        if (ec == asio::error::timed_out) throw RequestError(Failure::Timeout, "no whole answer from " + origin + " in time");
        if (ec == asio::error::operation_aborted && loop)
            throw RequestError(Failure::Unavailable, origin + ": the event loop stopped");
        if (outcome == detail::Outcome::Stale && reused && attempt == 0 && idempotent(method)) continue;
        if (ec == bhttp::error::body_limit) throw RequestError(Failure::Unavailable, "response larger than the limit");
        if (ec == bhttp::error::partial_message)
            throw RequestError(Failure::Unavailable, origin + ": the answer was cut short");
        throw RequestError(Failure::Unavailable, origin + ": " + ec.message());
    }
}

}  // namespace hub::http
