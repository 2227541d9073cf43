#pragma once
// Small helpers shared by the fuzz targets of this folder (docs/fuzzing.md).

#include <Poco/Logger.h>
#include <Poco/Message.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>

namespace hub::fuzz {

/// Stops the code under test from logging: a warning per input would cost more
/// than the input and bury libFuzzer's own output.
inline void quietLogging() {
    Poco::Logger::root().setLevel(Poco::Message::PRIO_FATAL);
    Poco::Logger::setLevel("", Poco::Message::PRIO_FATAL);
}

/// A finding that is not a crash by itself (a broken promise of the API under
/// test): print what, and abort so libFuzzer saves the input.
[[noreturn]] inline void fail(const char* what, std::string_view detail = {}) {
    std::fprintf(stderr, "\nFUZZ TARGET FAILURE: %s%s%.*s\n", what, detail.empty() ? "" : ": ",
                 static_cast<int>(detail.size()), detail.data());
    std::abort();
}

/// An HTTP peer on 127.0.0.1 for the targets that feed a client its answer
/// through a real socket, as a vendor system would. Each connection gets the
/// bytes last given to setReply() once the request head has arrived; then the
/// server ends its side and waits for the client to close.
class LoopbackServer {
public:
    LoopbackServer() {
        listener_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_in address{};
        address.sin_family = AF_INET;
        address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        socklen_t length = sizeof address;
        if (listener_ < 0 || ::bind(listener_, reinterpret_cast<sockaddr*>(&address), length) != 0 ||
            ::listen(listener_, 16) != 0 || ::getsockname(listener_, reinterpret_cast<sockaddr*>(&address), &length) != 0)
            fail("cannot listen on 127.0.0.1");
        port_ = ntohs(address.sin_port);
        thread_ = std::thread([this] { run(); });
        thread_.detach();  // lives as long as the process; libFuzzer exits without unwinding
    }

    std::uint16_t port() const { return port_; }
    std::string url(std::string_view path = "/") const {
        return "http://127.0.0.1:" + std::to_string(port_) + std::string(path);
    }

    void setReply(std::string_view reply) {
        std::lock_guard lock(mutex_);
        reply_.assign(reply.data(), reply.size());
    }

private:
    void run() {
        for (;;) {
            int fd = ::accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
            if (fd < 0) continue;
            serve(fd);
            ::close(fd);
        }
    }

    void serve(int fd) {
        std::string request;
        char buffer[4096];
        while (request.find("\r\n\r\n") == std::string::npos) {
            ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
            if (n <= 0) return;
            request.append(buffer, static_cast<std::size_t>(n));
        }
        std::string reply;
        {
            std::lock_guard lock(mutex_);
            reply = reply_;
        }
        for (std::size_t sent = 0; sent < reply.size();) {
            ssize_t n = ::send(fd, reply.data() + sent, reply.size() - sent, MSG_NOSIGNAL);
            if (n <= 0) break;  // the client gave up (a limit); that is its business
            sent += static_cast<std::size_t>(n);
        }
        ::shutdown(fd, SHUT_WR);
        while (::recv(fd, buffer, sizeof buffer, 0) > 0) {
        }
    }

    int listener_ = -1;
    std::uint16_t port_ = 0;
    std::mutex mutex_;
    std::string reply_;
    std::thread thread_;
};

}  // namespace hub::fuzz
