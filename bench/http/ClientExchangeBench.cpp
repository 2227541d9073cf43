// What one call of hub::http::Client costs the calling thread, request written
// and answer read, on a kept-alive loopback connection to a peer that answers
// at once with what the student affairs simulator sends (Poco's headers, a
// 1 KiB JSON body). The CPU time is the calling thread's own
// (CLOCK_THREAD_CPUTIME_ID), so the peer's thread does not count; user and
// system time together, best of five rounds. Used to decide whether a part of
// the client written by hand earns its keep (docs/bench/api.md).
#include "hub/http/Client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <string>
#include <thread>

namespace {

double threadCpuSeconds() {
    timespec t{};
    ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_nsec) / 1e9;
}

// Answers every request on each connection with the same bytes.
class Peer {
public:
    explicit Peer(std::string answer) : answer_(std::move(answer)) {
        listen_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        socklen_t len = sizeof a;
        if (::bind(listen_, reinterpret_cast<sockaddr*>(&a), len) != 0 || ::listen(listen_, 16) != 0 ||
            ::getsockname(listen_, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
            std::perror("listen");
            std::exit(1);
        }
        port_ = ntohs(a.sin_port);
        std::thread([this] { serve(); }).detach();
    }
    std::string url(const std::string& path) const { return "http://127.0.0.1:" + std::to_string(port_) + path; }

private:
    void serve() {
        for (;;) {
            int fd = ::accept4(listen_, nullptr, nullptr, SOCK_CLOEXEC);
            if (fd < 0) return;
            int one = 1;
            ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
            std::thread([this, fd] { converse(fd); }).detach();
        }
    }
    void converse(int fd) {
        std::string pending;
        char buf[8192];
        for (;;) {
            auto end = pending.find("\r\n\r\n");
            if (end != std::string::npos) {
                pending.erase(0, end + 4);
                if (::send(fd, answer_.data(), answer_.size(), MSG_NOSIGNAL) < 0) break;
                continue;
            }
            ssize_t n = ::recv(fd, buf, sizeof buf, 0);
            if (n <= 0) break;
            pending.append(buf, static_cast<std::size_t>(n));
        }
        ::close(fd);
    }

    std::string answer_;
    int listen_ = -1;
    std::uint16_t port_ = 0;
};

}  // namespace

int main(int argc, char** argv) {
    const int calls = argc > 1 ? std::atoi(argv[1]) : 50000;
    std::string body = R"({"student_id":"2023010001","name":"张三","name_en":"Zhang San","department":"计算机学院",)"
                       R"("major":"软件工程","grade":2023,"status":"enrolled","notes":")";
    body += std::string(1024 - body.size() - 2, 'x') + "\"}";
    Peer peer("HTTP/1.1 200 OK\r\nDate: Sun, 06 Dec 2026 16:00:00 GMT\r\nServer: student-affairs-sim\r\n"
              "Connection: Keep-Alive\r\nKeep-Alive: timeout=10, max=1000000\r\n"
              "Content-Type: application/json; charset=utf-8\r\nContent-Length: " +
              std::to_string(body.size()) + "\r\n\r\n" + body);
    hub::http::Client client;
    const std::string url = peer.url("/students/2023010001");
    const std::string headers = "Accept: application/json\r\nX-Api-Key: bench\r\n";
    for (int i = 0; i < 2000; ++i) client.request("GET", url, headers, "", std::chrono::seconds(5));  // warm-up
    double best = 1e300;
    for (int round = 0; round < 5; ++round) {
        const double start = threadCpuSeconds();
        std::size_t bytes = 0;
        for (int i = 0; i < calls; ++i) bytes += client.request("GET", url, headers, "", std::chrono::seconds(5)).body.size();
        const double us = (threadCpuSeconds() - start) * 1e6 / calls;
        if (bytes != body.size() * static_cast<std::size_t>(calls)) {
            std::fprintf(stderr, "wrong answers\n");
            return 1;
        }
        std::printf("round %d: %.2f us of the caller's CPU per call\n", round + 1, us);
        best = std::min(best, us);
    }
    std::printf("best: %.2f us per call (%d calls a round)\n", best, calls);
    return 0;
}
