#include "DeadlineSocket.h"

#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>

namespace hub::http::detail {

namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;

void DeadlineSocket::connect(const asio::ip::tcp::endpoint& endpoint, error_code& ec) {
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
    if (!wait(kWritable, ec)) return;
    int err = 0;
    socklen_t len = sizeof err;
    ::getsockopt(socket_.native_handle(), SOL_SOCKET, SO_ERROR, &err, &len);
    if (err) ec = error_code(err, boost::system::system_category());
}

std::size_t DeadlineSocket::orThrow(std::size_t n, const error_code& ec) {
    if (ec) throw boost::system::system_error(ec);
    return n;
}

bool DeadlineSocket::wait(Readiness readiness, error_code& ec) {
    if (onLoop_)
        return parkOnLoop(
            [&](auto done) {
                socket_.async_wait(readiness == kReadable ? asio::socket_base::wait_read : asio::socket_base::wait_write,
                                   std::move(done));
            },
            ec);
    const short events = readiness == kReadable ? POLLIN : POLLOUT;
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

}  // namespace hub::http::detail
