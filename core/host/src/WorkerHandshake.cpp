#include "WorkerHandshake.h"

#include <cerrno>
#include <climits>
#include <cstring>
#include <fcntl.h>
#include <poll.h>
#include <stdexcept>
#include <string>
#include <sys/socket.h>

namespace hub::host {

void handshake(WorkerProcess& worker, std::string_view config, Clock::time_point until,
               std::chrono::milliseconds startTimeout) {
    const int control = worker.control.get();
    ::fcntl(control, F_SETFL, O_NONBLOCK);
    std::size_t sent = 0;
    std::string line;
    bool configDone = config.empty();
    if (configDone) ::shutdown(control, SHUT_WR);
    for (;;) {
        pollfd fds[2] = {{control, static_cast<short>(configDone ? POLLIN : POLLIN | POLLOUT), 0},
                         {worker.pidfd.get(), POLLIN, 0}};
        long wait = msUntil(until);
        if (wait <= 0)
            throw std::runtime_error("worker did not get ready within " + std::to_string(startTimeout.count()) + " ms");
        if (::poll(fds, 2, static_cast<int>(std::min<long>(wait, INT_MAX))) < 0) {
            if (errno == EINTR) continue;
            throw std::runtime_error(std::string("poll: ") + std::strerror(errno));
        }
        if (!configDone && (fds[0].revents & POLLOUT)) {
            ssize_t n = ::send(control, config.data() + sent, config.size() - sent, MSG_NOSIGNAL);
            if (n > 0) sent += static_cast<std::size_t>(n);
            if (n < 0 && errno != EAGAIN && errno != EINTR) configDone = true;  // the worker went away: read why
            if (sent == config.size()) configDone = true;
            if (configDone) ::shutdown(control, SHUT_WR);
        }
        if (fds[0].revents & (POLLIN | POLLHUP | POLLERR)) {
            char buf[512];
            ssize_t n = ::recv(control, buf, sizeof buf, 0);
            if (n > 0) {
                line.append(buf, static_cast<std::size_t>(n));
                if (line.size() > 65536) throw std::runtime_error("worker sent an overlong start-up line");
                auto eol = line.find('\n');
                if (eol == std::string::npos) continue;
                line.resize(eol);
                if (line == "ready") return;
                if (line.rfind("error ", 0) == 0) throw std::runtime_error(line.substr(6));
                throw std::runtime_error("worker sent an unexpected start-up line");
            }
            if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
                // Closed without a word: wait for its exit status to say why.
                pollfd p{worker.pidfd.get(), POLLIN, 0};
                ::poll(&p, 1, static_cast<int>(std::min<long>(msUntil(until), 1000)));
                std::string how = exitText(worker.pid);
                throw std::runtime_error("worker " + (how.empty() ? "closed its control socket" : how) +
                                         " before it was ready");
            }
        }
        if ((fds[1].revents & POLLIN) && !(fds[0].revents & POLLIN)) {
            // Exited: its last words may still be in the socket buffer.
            char buf[512];
            ssize_t n;
            while ((n = ::recv(control, buf, sizeof buf, 0)) > 0) line.append(buf, static_cast<std::size_t>(n));
            if (line.rfind("error ", 0) == 0) throw std::runtime_error(line.substr(6, line.find('\n') - 6));
            throw std::runtime_error("worker " + exitText(worker.pid) + " before it was ready");
        }
    }
}

}  // namespace hub::host
