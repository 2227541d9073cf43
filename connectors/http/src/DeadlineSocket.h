#pragma once
// Internal to hub::http: the socket under Client's connections.

#include "ParkFiber.h"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <chrono>

namespace hub::http::detail {

/// A TCP socket whose blocking reads and writes give up at a deadline. The socket is
/// non-blocking. On a plain thread every wait is one poll() for the time left, so a
/// request costs the send, a poll and a receive, with no thread or timer of its
/// own. On a Loop's fiber (the socket then belongs to that loop) a wait parks the
/// fiber until the loop sees the socket ready or the deadline pass. Beast (and
/// asio::ssl above it) drive it as an ordinary synchronous stream either way.
class DeadlineSocket {
public:
    using error_code = boost::system::error_code;
    using executor_type = boost::asio::ip::tcp::socket::executor_type;
    using lowest_layer_type = boost::asio::ip::tcp::socket::lowest_layer_type;

    DeadlineSocket(boost::asio::io_context& io, bool onLoop) : socket_(io), onLoop_(onLoop) {}

    executor_type get_executor() { return socket_.get_executor(); }
    lowest_layer_type& lowest_layer() { return socket_.lowest_layer(); }
    const lowest_layer_type& lowest_layer() const { return socket_.lowest_layer(); }

    void setDeadline(std::chrono::steady_clock::time_point deadline) { deadline_ = deadline; }

    /// Connects within the deadline (asio's own synchronous connect waits
    /// without a limit): connect, then poll.
    void connect(const boost::asio::ip::tcp::endpoint& endpoint, error_code& ec);

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
            if (!wait(kReadable, ec)) return 0;
            std::size_t n = socket_.read_some(buffers, ec);
            if (ec != boost::asio::error::would_block && ec != boost::asio::error::try_again) return n;
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
            if (ec != boost::asio::error::would_block && ec != boost::asio::error::try_again) return n;
            if (!wait(kWritable, ec)) return 0;
        }
    }
    template <class ConstBuffers>
    std::size_t write_some(const ConstBuffers& buffers) {
        error_code ec;
        return orThrow(write_some(buffers, ec), ec);
    }

private:
    enum Readiness { kReadable, kWritable };

    // The throwing forms of the stream concepts.
    static std::size_t orThrow(std::size_t n, const error_code& ec);

    // Until the socket is ready or the deadline passes (then timed_out).
    bool wait(Readiness readiness, error_code& ec);

    template <class Start>
    bool parkOnLoop(Start start, error_code& ec) {
        ec = parkFiber(socket_.get_executor(), deadline_, std::move(start), [this] { socket_.cancel(); });
        return !ec;
    }

    boost::asio::ip::tcp::socket socket_;
    bool onLoop_;
    std::chrono::steady_clock::time_point deadline_{};
};

}  // namespace hub::http::detail
