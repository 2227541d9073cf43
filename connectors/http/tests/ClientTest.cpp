// hub::http::Client against scripted HTTP/1.1 servers on loopback: each test's
// server writes exactly the bytes it wants (keep-alive, close, chunked, stalls,
// garbage), which a full server library would not let us do.
#include "hub/http/Client.h"

#include "hub/runtime/Loop.h"
#include "hub/test/Eventually.h"

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/write.hpp>

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <cstring>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

using namespace std::chrono_literals;
using hub::http::Client;
using hub::http::Failure;
using hub::http::RequestError;

namespace {

/// Loopback server on port 0; runs handler(connection fd, connection index) on
/// its own thread for each accepted connection.
class ScriptServer {
public:
    using Handler = std::function<void(ScriptServer&, int fd, int index)>;

    explicit ScriptServer(Handler handler) : handler_(std::move(handler)) {
        listen_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        int one = 1;
        ::setsockopt(listen_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (::bind(listen_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(listen_, 64) != 0)
            throw std::runtime_error("cannot listen");
        socklen_t len = sizeof a;
        ::getsockname(listen_, reinterpret_cast<sockaddr*>(&a), &len);
        port_ = ntohs(a.sin_port);
        acceptor_ = std::thread([this] { acceptLoop(); });
    }

    ~ScriptServer() {
        stop_ = true;
        acceptor_.join();
        std::lock_guard lock(mutex_);
        for (auto& t : threads_) t.join();
        ::close(listen_);
    }

    std::string url(const std::string& path = "/") const {
        return "http://127.0.0.1:" + std::to_string(port_) + path;
    }
    int accepted() const { return accepted_; }
    /// Connections whose handler has returned and whose socket is closed.
    int closed() const { return closed_; }
    bool stopping() const { return stop_; }
    /// Holds a connection open, saying nothing, until the test ends.
    void stall() const { hub::test::waitUntil([this] { return stopping(); }, std::chrono::minutes(1), 5ms); }

    /// Reads one request (head plus Content-Length body); empty on EOF or stop.
    std::string readRequest(int fd) {
        std::string& buf = pending_[fd];
        for (;;) {
            auto end = buf.find("\r\n\r\n");
            if (end != std::string::npos) {
                std::size_t length = 0;
                auto cl = buf.find("Content-Length: ");
                if (cl != std::string::npos && cl < end) length = std::stoul(buf.substr(cl + 16));
                if (buf.size() >= end + 4 + length) {
                    std::string request = buf.substr(0, end + 4 + length);
                    buf.erase(0, end + 4 + length);
                    std::lock_guard lock(mutex_);
                    requests_.push_back(request);
                    return request;
                }
            }
            char chunk[65536];
            pollfd p{fd, POLLIN, 0};
            if (::poll(&p, 1, 50) == 0) {
                if (stop_) return {};
                continue;
            }
            ssize_t n = ::recv(fd, chunk, sizeof chunk, 0);
            if (n <= 0) return {};
            buf.append(chunk, static_cast<std::size_t>(n));
        }
    }

    static void write(int fd, std::string_view data) {
        while (!data.empty()) {
            ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
            if (n <= 0) return;
            data.remove_prefix(static_cast<std::size_t>(n));
        }
    }

    std::vector<std::string> requests() {
        std::lock_guard lock(mutex_);
        return requests_;
    }

private:
    void acceptLoop() {
        while (!stop_) {
            pollfd p{listen_, POLLIN, 0};
            if (::poll(&p, 1, 50) <= 0) continue;
            int fd = ::accept4(listen_, nullptr, nullptr, SOCK_CLOEXEC);
            if (fd < 0) continue;
            int index = accepted_++;
            std::lock_guard lock(mutex_);
            threads_.emplace_back([this, fd, index] {
                handler_(*this, fd, index);
                ::close(fd);
                ++closed_;
            });
        }
    }

    Handler handler_;
    int listen_ = -1;
    std::uint16_t port_ = 0;
    std::atomic<bool> stop_{false};
    std::atomic<int> accepted_{0};
    std::atomic<int> closed_{0};
    std::thread acceptor_;
    std::mutex mutex_;
    std::vector<std::thread> threads_;
    std::vector<std::string> requests_;
    thread_local static std::map<int, std::string> pending_;
};

thread_local std::map<int, std::string> ScriptServer::pending_;

std::string answer(const std::string& body, const std::string& extra = "") {
    return "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n" + extra +
           "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
}

/// Answers every request on the connection with its request line as the body.
void echoLoop(ScriptServer& s, int fd, int) {
    for (;;) {
        std::string request = s.readRequest(fd);
        if (request.empty()) return;
        ScriptServer::write(fd, answer(request.substr(0, request.find("\r\n"))));
    }
}

Failure failureOf(const std::function<void()>& f) {
    try {
        f();
    } catch (const RequestError& e) {
        return e.failure();
    }
    ADD_FAILURE() << "no RequestError";
    return Failure::BadRequest;
}

/// Every client test runs twice: called from a plain thread (each wait is a
/// poll) and from a fiber on a Loop (each wait parks the fiber on the loop).
enum class Mode { Thread, Loop };

class HttpClient : public ::testing::TestWithParam<Mode> {
protected:
    hub::http::Response fetch(Client& client, std::string_view method, const std::string& url,
                              std::string_view headers, std::string_view body, std::chrono::milliseconds timeout) {
        if (GetParam() == Mode::Thread) return client.request(method, url, headers, body, timeout);
        std::optional<hub::http::Response> response;
        std::exception_ptr error;
        loop_.spawn("client test", [&] {
            try {
                response = client.request(method, url, headers, body, timeout);
            } catch (...) {
                error = std::current_exception();
            }
        });
        io_.restart();
        io_.run();
        EXPECT_EQ(loop_.fibers(), 0u);
        if (error) std::rethrow_exception(error);
        return *response;
    }

    boost::asio::io_context io_{1};
    hub::runtime::Loop loop_{io_};
};

INSTANTIATE_TEST_SUITE_P(Modes, HttpClient, ::testing::Values(Mode::Thread, Mode::Loop),
                         [](const auto& p) { return p.param == Mode::Thread ? "Thread" : "Loop"; });

}  // namespace

TEST_P(HttpClient, KeepAliveReusesOneConnection) {
    ScriptServer server(echoLoop);
    Client client;
    for (int i = 0; i < 5; ++i) {
        auto r = fetch(client, "GET", server.url("/students/" + std::to_string(i) + "?x=1"), "", "", 2s);
        EXPECT_EQ(r.status, 200);
        EXPECT_EQ(r.body, "GET /students/" + std::to_string(i) + "?x=1 HTTP/1.1");
        EXPECT_NE(r.headers.find("Content-Type: application/json\r\n"), std::string::npos) << r.headers;
    }
    EXPECT_EQ(server.accepted(), 1);
    auto requests = server.requests();
    ASSERT_EQ(requests.size(), 5u);
    EXPECT_NE(requests[0].find("Host: 127.0.0.1:"), std::string::npos) << requests[0];
}

TEST_P(HttpClient, SendsHeadersAndBody) {
    ScriptServer server(echoLoop);
    Client client;
    std::string body = R"({"name":"张三"})";
    auto r = fetch(client, "POST", server.url("/学生"), "X-Api-Key: k1\r\nAccept: */*\r\n", body, 2s);
    EXPECT_EQ(r.status, 200);
    // Non-ASCII in the path goes out percent-encoded.
    EXPECT_EQ(r.body, "POST /%E5%AD%A6%E7%94%9F HTTP/1.1");
    auto requests = server.requests();
    ASSERT_EQ(requests.size(), 1u);
    EXPECT_NE(requests[0].find("X-Api-Key: k1\r\n"), std::string::npos);
    EXPECT_NE(requests[0].find("Content-Length: " + std::to_string(body.size()) + "\r\n"), std::string::npos);
    EXPECT_EQ(requests[0].substr(requests[0].size() - body.size()), body);
}

// The path and query go out as written, %2F and all; only what may not stand in
// a request line is encoded; the fragment stays home.
TEST_P(HttpClient, UrlsGoOutAsWritten) {
    ScriptServer server(echoLoop);
    Client client;
    std::string origin = server.url("");
    EXPECT_EQ(fetch(client, "GET", origin + "/a%2Fb?q=%E4%B8%AD&x=1#part", "", "", 2s).body,
              "GET /a%2Fb?q=%E4%B8%AD&x=1 HTTP/1.1");
    EXPECT_EQ(fetch(client, "GET", origin + "/{x}|\"^`", "", "", 2s).body, "GET /%7Bx%7D%7C%22%5E%60 HTTP/1.1");
    EXPECT_EQ(fetch(client, "GET", origin, "", "", 2s).body, "GET / HTTP/1.1");
    EXPECT_EQ(fetch(client, "GET", origin + "?only=query", "", "", 2s).body, "GET /?only=query HTTP/1.1");
    EXPECT_EQ(fetch(client, "GET", "HTTP" + origin.substr(4) + "/upper", "", "", 2s).body, "GET /upper HTTP/1.1");
    auto requests = server.requests();
    ASSERT_EQ(requests.size(), 5u);
    for (const auto& r : requests)
        EXPECT_NE(r.find("\r\nHost: " + origin.substr(7) + "\r\n"), std::string::npos) << r;
}

TEST_P(HttpClient, PluginFramingHeadersAreReplaced) {
    ScriptServer server(echoLoop);
    Client client;
    auto r = fetch(client, "POST", server.url("/x"), "Content-Length: 999\r\nTransfer-Encoding: chunked\r\n",
                            "abc", 2s);
    EXPECT_EQ(r.status, 200);
    auto requests = server.requests();
    ASSERT_EQ(requests.size(), 1u);
    // The plugin's framing is gone (not the bare "999": the port may hold it).
    EXPECT_EQ(requests[0].find("Content-Length: 999"), std::string::npos) << requests[0];
    EXPECT_NE(requests[0].find("Content-Length: 3\r\n"), std::string::npos) << requests[0];
    EXPECT_EQ(requests[0].find("chunked"), std::string::npos) << requests[0];
}

TEST_P(HttpClient, StaleConnectionIsRetriedForGet) {
    // Answers one request per connection, then closes without saying so.
    ScriptServer server([](ScriptServer& s, int fd, int) {
        if (!s.readRequest(fd).empty()) ScriptServer::write(fd, answer("one"));
    });
    Client client;
    EXPECT_EQ(fetch(client, "GET", server.url("/a"), "", "", 2s).body, "one");
    ASSERT_TRUE(hub::test::waitUntil([&] { return server.closed() == 1; }));  // the pooled one is stale
    EXPECT_EQ(fetch(client, "GET", server.url("/b"), "", "", 2s).body, "one");
    EXPECT_EQ(server.accepted(), 2);
}

TEST_P(HttpClient, StaleConnectionIsNotRetriedForPost) {
    ScriptServer server([](ScriptServer& s, int fd, int) {
        if (!s.readRequest(fd).empty()) ScriptServer::write(fd, answer("one"));
    });
    Client client;
    EXPECT_EQ(fetch(client, "POST", server.url("/a"), "", "x", 2s).body, "one");
    ASSERT_TRUE(hub::test::waitUntil([&] { return server.closed() == 1; }));
    EXPECT_EQ(failureOf([&] { fetch(client, "POST", server.url("/b"), "", "x", 2s); }), Failure::Unavailable);
    // The next one opens a fresh connection and works.
    EXPECT_EQ(fetch(client, "POST", server.url("/c"), "", "x", 2s).body, "one");
}

TEST_P(HttpClient, ConnectionCloseIsHonoured) {
    ScriptServer server([](ScriptServer& s, int fd, int) {
        for (;;) {
            if (s.readRequest(fd).empty()) return;
            ScriptServer::write(fd, answer("bye", "Connection: close\r\n"));
        }
    });
    Client client;
    for (int i = 0; i < 3; ++i) EXPECT_EQ(fetch(client, "GET", server.url(), "", "", 2s).body, "bye");
    EXPECT_EQ(server.accepted(), 3);
}

TEST_P(HttpClient, TimeoutWhenTheServerStalls) {
    ScriptServer server([](ScriptServer& s, int fd, int) {
        s.readRequest(fd);
        s.stall();
    });
    Client client;
    EXPECT_EQ(failureOf([&] { fetch(client, "GET", server.url(), "", "", 200ms); }), Failure::Timeout);
    EXPECT_EQ(failureOf([&] { fetch(client, "GET", server.url(), "", "", 0ms); }), Failure::Timeout);
}

TEST_P(HttpClient, TimeoutInTheMiddleOfABody) {
    ScriptServer server([](ScriptServer& s, int fd, int) {
        s.readRequest(fd);
        ScriptServer::write(fd, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly part");
        s.stall();
    });
    Client client;
    EXPECT_EQ(failureOf([&] { fetch(client, "GET", server.url(), "", "", 200ms); }), Failure::Timeout);
}

TEST_P(HttpClient, LargeBodies) {
    std::string big(5 * 1024 * 1024 + 17, 'x');
    for (std::size_t i = 0; i < big.size(); i += 4093) big[i] = static_cast<char>('a' + i % 26);
    ScriptServer server([&](ScriptServer& s, int fd, int) {
        for (;;) {
            std::string request = s.readRequest(fd);
            if (request.empty()) return;
            auto bodyAt = request.find("\r\n\r\n") + 4;
            // Answers with the request body if there was one, else the big one.
            ScriptServer::write(fd, answer(request.size() > bodyAt ? request.substr(bodyAt) : big));
        }
    });
    Client client;
    auto r = fetch(client, "GET", server.url(), "", "", 10s);
    EXPECT_EQ(r.body.size(), big.size());
    EXPECT_TRUE(r.body == big);
    std::string upload(3 * 1024 * 1024, 'u');
    r = fetch(client, "PUT", server.url(), "", upload, 10s);
    EXPECT_TRUE(r.body == upload);
    EXPECT_EQ(server.accepted(), 1);

    Client small(Client::Options{64, 4000ms, 1024 * 1024});
    EXPECT_EQ(failureOf([&] { fetch(small, "GET", server.url(), "", "", 10s); }), Failure::Unavailable);
}

TEST_P(HttpClient, ChunkedResponse) {
    std::string bigChunk(40000, 'c');
    ScriptServer server([&](ScriptServer& s, int fd, int) {
        for (;;) {
            if (s.readRequest(fd).empty()) return;
            std::string out = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
            out += "5;ext=1\r\nhello\r\n1\r\n \r\n";
            char size[16];
            std::snprintf(size, sizeof size, "%zx", bigChunk.size());
            out += std::string(size) + "\r\n" + bigChunk + "\r\n";
            out += "6\r\n世界\r\n0\r\nX-Trailer: t\r\n\r\n";
            // Sent in small pieces to exercise partial reads; the pause between
            // them is the behaviour under test (the client must wait for more).
            for (std::size_t i = 0; i < out.size(); i += 7000) {
                ScriptServer::write(fd, out.substr(i, 7000));
                std::this_thread::sleep_for(1ms);
            }
        }
    });
    Client client;
    for (int i = 0; i < 3; ++i) {
        auto r = fetch(client, "GET", server.url(), "", "", 5s);
        EXPECT_EQ(r.status, 200);
        EXPECT_TRUE(r.body == "hello " + bigChunk + "世界") << r.body.size();
    }
    // The trailers are read with the answer, so the connection is reused.
    EXPECT_EQ(server.accepted(), 1);
}

TEST_P(HttpClient, MalformedChunkIsAnError) {
    ScriptServer server([](ScriptServer& s, int fd, int index) {
        if (s.readRequest(fd).empty()) return;
        std::string out = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n";
        // A chunk size that is not hex, then one that overflows 64 bits.
        out += index == 0 ? "zz\r\nxx\r\n0\r\n\r\n" : "1ffffffffffffffff\r\nxx\r\n0\r\n\r\n";
        ScriptServer::write(fd, out);
    });
    Client client;
    for (int i = 0; i < 2; ++i)
        EXPECT_EQ(failureOf([&] { fetch(client, "GET", server.url(), "", "", 2s); }), Failure::Unavailable) << i;
}

TEST_P(HttpClient, BodyUntilCloseAndInterimAnswers) {
    ScriptServer server([](ScriptServer& s, int fd, int index) {
        if (s.readRequest(fd).empty()) return;
        if (index == 0)
            ScriptServer::write(fd, "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nto the end");
        else
            ScriptServer::write(fd, "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok");
    });
    Client client;
    auto r = fetch(client, "GET", server.url(), "", "", 2s);
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.body, "to the end");
    r = fetch(client, "POST", server.url(), "", "{}", 2s);
    EXPECT_EQ(r.status, 201);
    EXPECT_EQ(r.body, "ok");
}

TEST_P(HttpClient, MalformedResponses) {
    ScriptServer server([](ScriptServer& s, int fd, int index) {
        if (s.readRequest(fd).empty()) return;
        switch (index) {
            case 0: ScriptServer::write(fd, "garbage\r\n\r\n"); break;
            case 1: ScriptServer::write(fd, "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n"); break;
            case 2: ScriptServer::write(fd, "HTTP/1.1 200 OK\r\nX: " + std::string(100000, 'a')); break;
            case 3: ScriptServer::write(fd, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort"); break;
            // Statuses outside 100-599, which Beast reads (found by the http_response fuzz target).
            case 4: ScriptServer::write(fd, "HTTP/1.1 000 Zero\r\nContent-Length: 0\r\n\r\n"); break;
            case 5: ScriptServer::write(fd, "HTTP/1.1 099 Odd\r\nContent-Length: 0\r\n\r\n"); break;
            case 6: ScriptServer::write(fd, "HTTP/1.1 600 Beyond\r\nContent-Length: 0\r\n\r\n"); break;
            default: break;  // closes without a byte
        }
    });
    Client client;
    for (int i = 0; i < 8; ++i)
        EXPECT_EQ(failureOf([&] { fetch(client, "POST", server.url(), "", "", 2s); }), Failure::Unavailable) << i;
}

TEST_P(HttpClient, BadRequests) {
    Client client;
    for (const char* url : {"ftp://127.0.0.1/", "127.0.0.1/x", "http:///x", "http://127.0.0.1:99999/",
                            "http://127.0.0.1:x/", "http://user:pw@127.0.0.1/", "http://[::1/", "http://a b/",
                            "http://127.0.0.1:/", "http://:80/", "http://[::1]x/", "http://127.0.0.1/%zz",
                            "http://127.0.0.1/a%4", "http://127.0.0.1:65536/", "http://127.0.0.1:0/",
                            "http://exa\"mple/", "http://127.0.0.1:8\xc0/", "http://::1/", "http://[::1]:0/"})
        EXPECT_EQ(failureOf([&] { fetch(client, "GET", url, "", "", 1s); }), Failure::BadRequest) << url;
    ScriptServer server(echoLoop);
    EXPECT_EQ(failureOf([&] { fetch(client, "GET", server.url(), "X-A: a\nInjected: b\r\n", "", 1s); }),
              Failure::BadRequest);
    EXPECT_EQ(failureOf([&] { fetch(client, "GET", server.url(), "Bad Name: v\r\n", "", 1s); }),
              Failure::BadRequest);
    EXPECT_EQ(failureOf([&] { fetch(client, "GET /x HTTP/1.1\r\n", server.url(), "", "", 1s); }),
              Failure::BadRequest);
    EXPECT_TRUE(server.requests().empty());
}

TEST_P(HttpClient, RefusedConnectionIsUnavailable) {
    int port;
    {
        ScriptServer server(echoLoop);
        port = std::stoi(server.url().substr(17));
    }
    Client client;
    EXPECT_EQ(failureOf([&] {
                  fetch(client, "GET", "http://127.0.0.1:" + std::to_string(port) + "/", "", "", 1s);
              }),
              Failure::Unavailable);
}

TEST(HttpClientThreads, ConcurrentCallersShareThePool) {
    ScriptServer server(echoLoop);
    Client client;
    std::atomic<int> ok{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 8; ++t)
        threads.emplace_back([&, t] {
            for (int i = 0; i < 50; ++i) {
                auto path = "/t" + std::to_string(t) + "/" + std::to_string(i);
                if (client.request("GET", server.url(path), "", "", 5s).body == "GET " + path + " HTTP/1.1") ++ok;
            }
        });
    for (auto& t : threads) t.join();
    EXPECT_EQ(ok, 400);
    EXPECT_LE(server.accepted(), 8);
}

namespace {

namespace asio = boost::asio;

/// A test CA, and a server certificate it signed for DNS:localhost only.
class TestPki {
public:
    TestPki() {
        dir_ = std::filesystem::temp_directory_path() / ("hub-http-tls-" + std::to_string(::getpid()));
        std::filesystem::create_directories(dir_);
        std::ofstream(dir_ / "server.ext") << "subjectAltName=DNS:localhost\nextendedKeyUsage=serverAuth\n";
        const std::string d = dir_.string() + "/";
        const std::string quiet = " >>" + d + "openssl.log 2>&1";
        const std::string ec = " -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes";
        ok_ = std::system(("openssl req -x509" + ec + " -keyout " + d + "ca.key -out " + d +
                           "ca.pem -days 2 -subj '/CN=CampusHub HTTP Test CA'" + quiet)
                              .c_str()) == 0 &&
              std::system(("openssl req" + ec + " -keyout " + d + "server.key -out " + d +
                           "server.csr -subj /CN=localhost" + quiet)
                              .c_str()) == 0 &&
              std::system(("openssl x509 -req -in " + d + "server.csr -CA " + d + "ca.pem -CAkey " + d +
                           "ca.key -CAcreateserial -out " + d + "server.pem -days 2 -extfile " + d + "server.ext" +
                           quiet)
                              .c_str()) == 0;
    }
    ~TestPki() { std::filesystem::remove_all(dir_); }
    bool ok() const { return ok_; }
    std::string file(const char* name) const { return (dir_ / name).string(); }

private:
    std::filesystem::path dir_;
    bool ok_ = false;
};

/// HTTPS on loopback with asio::ssl: answers each request on a connection with
/// its request line, until the client closes.
class TlsServer {
public:
    explicit TlsServer(const TestPki& pki) : tls_(asio::ssl::context::tls_server), acceptor_(io_) {
        tls_.use_certificate_chain_file(pki.file("server.pem"));
        tls_.use_private_key_file(pki.file("server.key"), asio::ssl::context::pem);
        asio::ip::tcp::endpoint at(asio::ip::make_address("127.0.0.1"), 0);
        acceptor_.open(at.protocol());
        acceptor_.bind(at);
        acceptor_.listen();
        port_ = acceptor_.local_endpoint().port();
        thread_ = std::thread([this] { serve(); });
    }
    ~TlsServer() {
        stop_ = true;
        // A blocking accept() does not return when the socket is closed under it: knock.
        boost::system::error_code ignored;
        asio::ip::tcp::socket knock(io_);
        knock.connect(acceptor_.local_endpoint(), ignored);
        thread_.join();
        for (auto& t : connections_) t.join();
    }
    std::string url(const std::string& host) const { return "https://" + host + ":" + std::to_string(port_) + "/tls"; }
    int accepted() const { return accepted_; }

private:
    void serve() {
        while (!stop_) {
            boost::system::error_code ec;
            asio::ip::tcp::socket socket(io_);
            acceptor_.accept(socket, ec);
            if (ec || stop_) return;
            ++accepted_;
            // Its own thread: a kept-alive connection must not hold up the next one.
            connections_.emplace_back([this, socket = std::move(socket)]() mutable { converse(std::move(socket)); });
        }
    }

    void converse(asio::ip::tcp::socket socket) {
        boost::system::error_code ec;
        asio::ssl::stream<asio::ip::tcp::socket> stream(std::move(socket), tls_);
        stream.handshake(asio::ssl::stream_base::server, ec);
        std::string pending;
        char chunk[4096];
        while (!ec && !stop_) {
            auto end = pending.find("\r\n\r\n");
            if (end != std::string::npos) {
                std::string line = pending.substr(0, pending.find("\r\n"));
                pending.erase(0, end + 4);
                asio::write(stream, asio::buffer(answer(line)), ec);
                continue;
            }
            std::size_t n = stream.read_some(asio::buffer(chunk), ec);
            pending.append(chunk, n);
        }
    }

    asio::io_context io_;
    asio::ssl::context tls_;
    asio::ip::tcp::acceptor acceptor_;
    std::uint16_t port_ = 0;
    std::atomic<bool> stop_{false};
    std::atomic<int> accepted_{0};
    std::thread thread_;
    std::vector<std::thread> connections_;
};

}  // namespace

TEST_P(HttpClient, HttpsVerifiesTheServerAgainstTheConfiguredCa) {
    TestPki pki;
    ASSERT_TRUE(pki.ok()) << "openssl could not make the test certificates";
    TlsServer server(pki);
    Client::Options options;
    options.caFile = pki.file("ca.pem");
    Client client(options);
    for (int i = 0; i < 3; ++i) {
        auto r = fetch(client, "GET", server.url("localhost"), "", "", 5s);
        EXPECT_EQ(r.status, 200);
        EXPECT_EQ(r.body, "GET /tls HTTP/1.1");
    }
    EXPECT_EQ(server.accepted(), 1);  // kept alive over TLS

    // The certificate names localhost, not 127.0.0.1.
    EXPECT_EQ(failureOf([&] { fetch(client, "GET", server.url("127.0.0.1"), "", "", 5s); }), Failure::Unavailable);
    // The system's CAs never signed the test CA.
    Client systemCas;
    EXPECT_EQ(failureOf([&] { fetch(systemCas, "GET", server.url("localhost"), "", "", 5s); }),
              Failure::Unavailable);
    // Neither did the test CA's certificate alone, if it is not the issuer.
    Client::Options wrong;
    wrong.caFile = pki.file("server.pem");
    Client wrongCa(wrong);
    EXPECT_EQ(failureOf([&] { fetch(wrongCa, "GET", server.url("localhost"), "", "", 5s); }), Failure::Unavailable);
}

TEST(HttpClientOptions, MissingCaFileIsRefusedAtConstruction) {
    Client::Options options;
    options.caFile = "/nonexistent/ca.pem";
    EXPECT_THROW(Client{options}, std::invalid_argument);
}

// On a Loop, a request parks its fiber, and the loop's one thread serves other
// fibers meanwhile. The slow server answers only after every fast request has
// been answered: were the slow request holding the thread, the fast ones could
// not run and it would time out.
TEST(HttpClientOnLoop, AParkedCallHoldsUpNothingElse) {
    std::atomic<bool> fastDone{false};
    ScriptServer slow([&](ScriptServer& s, int fd, int) {
        if (s.readRequest(fd).empty()) return;
        hub::test::waitUntil([&] { return fastDone || s.stopping(); }, 10s, 1ms);
        ScriptServer::write(fd, answer("slow"));
    });
    ScriptServer fast(echoLoop);
    Client client;
    boost::asio::io_context io(1);
    hub::runtime::Loop loop(io);

    std::vector<std::string> finished;
    loop.spawn("slow", [&] {
        try {
            finished.push_back(client.request("GET", slow.url(), "", "", 5s).body);
        } catch (const RequestError& e) {
            finished.push_back(std::string("slow failed: ") + e.what());
        }
    });
    constexpr int kFast = 16, kEach = 5;
    int fastLeft = kFast;
    for (int f = 0; f < kFast; ++f)
        loop.spawn("fast", [&, f] {
            for (int i = 0; i < kEach; ++i) {
                auto path = "/f" + std::to_string(f) + "/" + std::to_string(i);
                auto r = client.request("GET", fast.url(path), "", "", 5s);
                if (r.body != "GET " + path + " HTTP/1.1") finished.push_back("wrong answer for " + path);
            }
            finished.push_back("fast");
            if (--fastLeft == 0) fastDone = true;
        });
    EXPECT_EQ(loop.fibers(), static_cast<std::size_t>(kFast + 1));
    io.run();
    ASSERT_EQ(finished.size(), static_cast<std::size_t>(kFast + 1));
    for (int f = 0; f < kFast; ++f) EXPECT_EQ(finished[f], "fast");
    EXPECT_EQ(finished.back(), "slow");
    // One connection per concurrent fiber at most, kept alive on the loop.
    EXPECT_LE(fast.accepted(), kFast);
}

TEST(HttpClientOnLoop, ManyFibersShareTheLoopsPool) {
    ScriptServer server(echoLoop);
    Client client;
    boost::asio::io_context io(1);
    hub::runtime::Loop loop(io);
    int ok = 0;
    for (int f = 0; f < 64; ++f)
        loop.spawn("caller", [&, f] {
            for (int i = 0; i < 20; ++i) {
                auto path = "/s/" + std::to_string(f) + "/" + std::to_string(i);
                if (client.request("POST", server.url(path), "", "{}", 5s).body == "POST " + path + " HTTP/1.1") ++ok;
            }
        });
    io.run();
    EXPECT_EQ(ok, 64 * 20);
    EXPECT_LE(server.accepted(), 64);
    // A second round reuses the kept-alive connections of this loop.
    int before = server.accepted();
    loop.spawn("again", [&] { ok += client.request("GET", server.url("/again"), "", "", 5s).status == 200; });
    io.restart();
    io.run();
    EXPECT_EQ(ok, 64 * 20 + 1);
    EXPECT_EQ(server.accepted(), before);
}

// The loop stops with a request parked: the fiber's wait fails, the request ends
// in an error the caller sees, and nothing runs on the freed stack afterwards.
TEST(HttpClientOnLoop, StoppingTheLoopEndsParkedRequests) {
    ScriptServer stall([](ScriptServer& s, int fd, int) {
        s.readRequest(fd);
        s.stall();
    });
    Client client;
    std::string outcome;
    {
        boost::asio::io_context io(1);
        {
            hub::runtime::Loop loop(io);
            loop.spawn("parked", [&] {
                try {
                    client.request("GET", stall.url(), "", "", 30s);
                    outcome = "answered";
                } catch (const RequestError& e) {
                    outcome = e.failure() == Failure::Unavailable ? "unavailable" : "other";
                }
            });
            io.run_for(100ms);
            EXPECT_EQ(loop.fibers(), 1u);
            EXPECT_EQ(outcome, "");
        }
        EXPECT_EQ(outcome, "unavailable");
    }
    // The client goes on working for thread callers.
    ScriptServer server(echoLoop);
    EXPECT_EQ(client.request("GET", server.url("/x"), "", "", 2s).body, "GET /x HTTP/1.1");
}

// ---- name resolution within the deadline -----------------------------------

namespace {

// A resolver that never answers for names under stall.invalid (as a DNS server
// that drops the query would keep getaddrinfo waiting) until a test lets it go;
// every other name goes to the system's getaddrinfo. The lookups that stall run
// on the client's resolver threads, which outlive a test: they are released at
// its end, bounded in any case.
std::mutex gStallMutex;
std::condition_variable gStallReleased;
bool gStallRelease = false;
std::atomic<int> gStalled{0};

int stallingLookUp(const char* host, const char* service, const addrinfo* hints, addrinfo** result) {
    if (std::string_view(host).ends_with("stall.invalid")) {
        ++gStalled;
        std::unique_lock lock(gStallMutex);
        gStallReleased.wait_for(lock, 60s, [] { return gStallRelease; });
        return EAI_AGAIN;
    }
    return ::getaddrinfo(host, service, hints, result);
}

struct StallGuard {
    StallGuard() {
        std::lock_guard lock(gStallMutex);
        gStallRelease = false;
        gStalled = 0;
    }
    ~StallGuard() {
        {
            std::lock_guard lock(gStallMutex);
            gStallRelease = true;
        }
        gStallReleased.notify_all();
    }
};

Client::Options stallingOptions() {
    Client::Options o;
    o.lookUp = &stallingLookUp;
    return o;
}

}  // namespace

TEST(HttpClientResolution, ALookupThatNeverAnswersEndsAtTheDeadline) {
    StallGuard stall;
    Client client(stallingOptions());
    auto started = std::chrono::steady_clock::now();
    try {
        client.request("GET", "http://vendor.stall.invalid:8080/students", "", "", 300ms);
        ADD_FAILURE() << "answered";
    } catch (const RequestError& e) {
        EXPECT_EQ(e.failure(), Failure::Timeout) << e.what();
        EXPECT_NE(std::string(e.what()).find("vendor.stall.invalid"), std::string::npos) << e.what();
    }
    // At the deadline, not when the lookup gives up (a generous bound: busy machines).
    EXPECT_LT(std::chrono::steady_clock::now() - started, 5s);
    EXPECT_EQ(gStalled.load(), 1);
}

TEST(HttpClientResolution, HangingLookupsHoldUpNeitherOtherNamesNorTheLoop) {
    StallGuard stall;
    ScriptServer server(echoLoop);
    Client client(stallingOptions());
    // Four requests on threads wait for names that never resolve...
    std::vector<std::thread> stalled;
    std::atomic<int> timeouts{0};
    for (int i = 0; i < 4; ++i)
        stalled.emplace_back([&, i] {
            try {
                client.request("GET", "http://h" + std::to_string(i) + ".stall.invalid/", "", "", 2s);
            } catch (const RequestError& e) {
                if (e.failure() == Failure::Timeout) ++timeouts;
            }
        });
    EXPECT_TRUE(hub::test::waitUntil([] { return gStalled.load() == 4; }, 10s, 1ms));
    // ...while a name that resolves (localhost) is looked up and answered, from a
    // thread and from a fiber, and a fiber waiting for a hanging name leaves its
    // loop free for others.
    std::string url = server.url("/named");
    url.replace(url.find("127.0.0.1"), 9, "localhost");
    EXPECT_EQ(client.request("GET", url, "", "", 5s).body, "GET /named HTTP/1.1");
    boost::asio::io_context io(1);
    hub::runtime::Loop loop(io);
    std::vector<std::string> outcomes;
    loop.spawn("stalled", [&] {
        try {
            client.request("GET", "http://fiber.stall.invalid/", "", "", 500ms);
            outcomes.push_back("answered");
        } catch (const RequestError& e) {
            outcomes.push_back(e.failure() == Failure::Timeout ? "timeout" : e.what());
        }
    });
    loop.spawn("named", [&] { outcomes.push_back(client.request("GET", url, "", "", 5s).body); });
    io.run();
    ASSERT_EQ(outcomes.size(), 2u);
    EXPECT_EQ(outcomes[0], "GET /named HTTP/1.1");  // answered while the other waited
    EXPECT_EQ(outcomes[1], "timeout");
    for (auto& t : stalled) t.join();
    EXPECT_EQ(timeouts.load(), 4);
}
