// The HTTP front end on its own, through a raw socket: the exact bytes of the
// status line and headers it writes, keep-alive in both HTTP versions, that a
// header holding a line break cannot split the answer, that hostile targets are
// refused before any handler runs, HEAD, request ids, lingering close, accept
// under descriptor exhaustion, and that exceptions never end an I/O thread.
#include "hub/api/HttpServer.h"
#include "hub/api/Metrics.h"
#include "hub/api/Router.h"
#include "hub/test/Eventually.h"

#include <Poco/AutoPtr.h>
#include <Poco/Channel.h>
#include <Poco/Logger.h>
#include <Poco/Message.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/write.hpp>

#include <gtest/gtest.h>

#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <atomic>
#include <regex>
#include <string>
#include <thread>

namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using hub::api::HttpServer;
using hub::api::RequestPtr;
using hub::api::Responder;
using hub::api::Response;

class HttpServerTest : public ::testing::Test {
protected:
    void SetUp() override {
        router_.add(hub::api::http::verb::get, "/hello", [](const RequestPtr&, Responder r) {
            r.send(Response::json(200, R"({"name":"张三"})"));
        }, false);
        router_.add(hub::api::http::verb::get, "/items/{id}", [this](const RequestPtr& request, Responder r) {
            ++handled_;
            std::string body;
            hub::api::appendString(body, request->param("id"));
            r.send(Response::json(200, body));
        }, false);
        router_.add(hub::api::http::verb::get, "/search", [this](const RequestPtr& request, Responder r) {
            ++handled_;
            std::string q, body = "[";
            for (const auto& [name, value] : request->queryParams()) {
                if (body.size() > 1) body += ',';
                hub::api::appendString(body, name + "=" + value);
            }
            r.send(Response::json(200, body + "]"));
        }, false);
        router_.add(hub::api::http::verb::post, "/submit", [](const RequestPtr&, Responder r) {
            r.send(Response::json(200, "{}"));
        }, false);
        router_.add(hub::api::http::verb::get, "/ids", [](const RequestPtr& request, Responder r) {
            r.send(Response::json(200, "{\"hub\":\"" + request->requestId + "\",\"client\":\"" +
                                           request->clientRequestId + "\"}"));
        }, false);
        router_.add(hub::api::http::verb::get, "/throws-int", [](const RequestPtr&, Responder) { throw 42; }, false);
        router_.add(hub::api::http::verb::get, "/completion-throws", [](const RequestPtr&, Responder r) {
            r.after(std::chrono::milliseconds(1), [] { throw std::string("not a std::exception"); });
        }, false);
        // A worker answers while the I/O thread arms the timeout: send() and after()
        // on one request from two threads at once (TSan reports a race if they share
        // unsynchronised state).
        router_.add(hub::api::http::verb::get, "/race", [](const RequestPtr&, Responder r) {
            std::thread worker([r] { r.send(Response::json(200, "{}")); });
            r.after(std::chrono::seconds(5), [] {});
            worker.join();
        }, false);
        router_.add(hub::api::http::verb::get, "/headers", [](const RequestPtr&, Responder r) {
            Response response = Response::json(201, "{}");
            response.headers.emplace_back("Location", "/api/v1/applications/a1");
            response.headers.emplace_back("X-Evil", "x\r\nSet-Cookie: stolen=1");
            response.headers.emplace_back("X-Evil2\r\nSet-Cookie", "stolen=2");
            r.send(std::move(response));
        }, false);
        HttpServer::Options options;
        options.port = 0;
        options.ioThreads = 1;
        server_ = std::make_unique<HttpServer>(options, router_);
        server_->start();
        socket_.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), server_->port()));
    }
    void TearDown() override { server_->stop(std::chrono::milliseconds(500)); }

    // Sends `request` and reads one answer: its head, then Content-Length bytes of body.
    std::pair<std::string, std::string> exchange(const std::string& request) {
        asio::write(socket_, asio::buffer(request));
        std::size_t n = asio::read_until(socket_, buffer_, "\r\n\r\n");
        std::string head(asio::buffers_begin(buffer_.data()), asio::buffers_begin(buffer_.data()) + n);
        buffer_.consume(n);
        auto at = head.find("Content-Length: ");
        EXPECT_NE(at, std::string::npos) << head;
        std::size_t length = std::stoul(head.substr(at + 16));
        if (buffer_.size() < length) asio::read(socket_, buffer_, asio::transfer_exactly(length - buffer_.size()));
        std::string body(asio::buffers_begin(buffer_.data()), asio::buffers_begin(buffer_.data()) + length);
        buffer_.consume(length);
        return {head, body};
    }

    bool closedByServer() {
        boost::system::error_code ec;
        char c;
        socket_.read_some(asio::buffer(&c, 1), ec);
        return ec == asio::error::eof;
    }

    hub::api::Router router_;
    std::atomic<int> handled_{0};
    std::unique_ptr<HttpServer> server_;
    asio::io_context io_;
    tcp::socket socket_{io_};
    asio::streambuf buffer_;
};

// RFC 9110 IMF-fixdate, e.g. "Sun, 06 Nov 1994 08:49:37 GMT".
const std::regex kDateHeader("\r\nDate: (Mon|Tue|Wed|Thu|Fri|Sat|Sun), \\d\\d "
                             "(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \\d{4} \\d\\d:\\d\\d:\\d\\d GMT\r\n");

// The head without the Date and X-Request-Id lines, whose values change.
std::string stable(std::string head) {
    head = std::regex_replace(head, kDateHeader, "\r\n");
    return std::regex_replace(head, std::regex("\r\nX-Request-Id: [^\r]*\r\n"), "\r\n");
}

TEST_F(HttpServerTest, WritesTheStatusLineHeadersAndUtf8BodyExactly) {
    auto [head, body] = exchange("GET /hello HTTP/1.1\r\nHost: x\r\nX-Request-Id: req-42\r\n\r\n");
    EXPECT_TRUE(std::regex_search(head, kDateHeader)) << head;
    EXPECT_EQ(head.find("X-Request-Id: req-42"), std::string::npos) << "the hub answers its own id: " << head;
    EXPECT_NE(head.find("\r\nX-Request-Id: "), std::string::npos) << head;
    EXPECT_EQ(stable(head),
              "HTTP/1.1 200 OK\r\n"
              "Server: campushub\r\n"
              "Content-Type: application/json\r\n"
              "Content-Length: 17\r\n\r\n");
    EXPECT_EQ(body, R"({"name":"张三"})");
    // Kept alive: a second request on the same connection is answered.
    auto [head2, body2] = exchange("GET /hello HTTP/1.1\r\nHost: x\r\n\r\n");
    EXPECT_EQ(head2.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << head2;
    EXPECT_NE(head2.find("X-Request-Id: "), std::string::npos);
    EXPECT_EQ(body2, body);
}

TEST_F(HttpServerTest, ClosesWhenTheClientAsksAndKeepsHttp10AliveWhenAsked) {
    auto [kept, body] = exchange("GET /hello HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    EXPECT_EQ(kept.rfind("HTTP/1.0 200 OK\r\n", 0), 0u) << kept;
    EXPECT_NE(kept.find("Connection: keep-alive\r\n"), std::string::npos) << kept;
    auto [closing, body2] = exchange("GET /hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    EXPECT_NE(closing.find("Connection: close\r\n"), std::string::npos) << closing;
    EXPECT_TRUE(closedByServer());
}

TEST_F(HttpServerTest, AHeaderWithALineBreakIsLeftOut) {
    auto [head, body] = exchange("GET /headers HTTP/1.1\r\nHost: x\r\n\r\n");
    EXPECT_EQ(head.rfind("HTTP/1.1 201 Created\r\n", 0), 0u) << head;
    EXPECT_NE(head.find("Location: /api/v1/applications/a1\r\n"), std::string::npos) << head;
    EXPECT_EQ(head.find("Set-Cookie"), std::string::npos) << head;
    EXPECT_EQ(head.find("X-Evil"), std::string::npos) << head;
    EXPECT_EQ(body, "{}");
}

TEST_F(HttpServerTest, ProblemsForUnknownPathsAndMethodsKeepTheConnection) {
    auto [missing, body] = exchange("GET /nothing HTTP/1.1\r\nHost: x\r\n\r\n");
    EXPECT_EQ(missing.rfind("HTTP/1.1 404 Not Found\r\n", 0), 0u) << missing;
    EXPECT_NE(missing.find("Content-Type: application/problem+json\r\n"), std::string::npos) << missing;
    EXPECT_NE(body.find("/nothing"), std::string::npos) << body;
    auto [method, body2] = exchange("DELETE /hello HTTP/1.1\r\nHost: x\r\n\r\n");
    EXPECT_EQ(method.rfind("HTTP/1.1 405 Method Not Allowed\r\n", 0), 0u) << method;
    EXPECT_NE(method.find("\r\nAllow: GET, HEAD\r\n"), std::string::npos) << method;
    auto [fine, body3] = exchange("GET /hello HTTP/1.1\r\nHost: x\r\n\r\n");
    EXPECT_EQ(fine.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << fine;
    EXPECT_TRUE(std::regex_search(missing, kDateHeader)) << missing;
    EXPECT_TRUE(std::regex_search(method, kDateHeader)) << method;
}

// Issue 13: "%zz" ended hubd with an uncaught Poco::URISyntaxException. Every
// target is checked once before routing: no handler runs, the answer is a 400,
// and the connection goes on.
TEST_F(HttpServerTest, MalformedTargetsAre400BeforeAnyHandler) {
    for (const char* target : {"/items/%zz", "/items/%4", "/items/abc%", "/items/%FF", "/items/%C3%28",
                               "/items/%ED%A0%80", "/items/a%00b", "/search?q=%zz", "/search?q=%", "/search?q=%FF",
                               "/search?%00=x", "/search?q=a%2", "/items/a\"b", "/items/a<b>", "/items/a%20b#frag",
                               "items", "http://x/hello", "*"}) {
        SCOPED_TRACE(target);
        auto [head, body] = exchange(std::string("GET ") + target + " HTTP/1.1\r\nHost: x\r\n\r\n");
        EXPECT_EQ(head.rfind("HTTP/1.1 400 Bad Request\r\n", 0), 0u) << head;
        EXPECT_NE(head.find("Content-Type: application/problem+json\r\n"), std::string::npos) << head;
        EXPECT_NE(body.find("malformed-target"), std::string::npos) << body;
    }
    EXPECT_EQ(handled_.load(), 0);
    auto [head, body] = exchange("GET /hello HTTP/1.1\r\nHost: x\r\n\r\n");
    EXPECT_EQ(head.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << head;
}

// Canonical paths only: a proxy's exact-path rule must see the same path the
// router does, so "//x", "x/", "." and ".." segments never reach a route.
TEST_F(HttpServerTest, NonCanonicalPathsAre404) {
    for (const char* target : {"/hello/", "//hello", "/hello//", "/./hello", "/items/../hello", "/items/x/..",
                               "/%2e/hello", "/%2E%2e/hello", "/items/.", "/items//x", "/items/x/"}) {
        SCOPED_TRACE(target);
        auto [head, body] = exchange(std::string("GET ") + target + " HTTP/1.1\r\nHost: x\r\n\r\n");
        EXPECT_EQ(head.rfind("HTTP/1.1 404 Not Found\r\n", 0), 0u) << head;
    }
    EXPECT_EQ(handled_.load(), 0);
}

TEST_F(HttpServerTest, ParametersArriveDecodedAsUtf8) {
    EXPECT_EQ(exchange("GET /items/%E5%9C%A8%E8%AF%BB HTTP/1.1\r\nHost: x\r\n\r\n").second, "\"在读\"");
    EXPECT_EQ(exchange("GET /items/在读 HTTP/1.1\r\nHost: x\r\n\r\n").second, "\"在读\"");
    // An encoded slash is data inside one segment, not a separator.
    EXPECT_EQ(exchange("GET /items/a%2Fb HTTP/1.1\r\nHost: x\r\n\r\n").second, "\"a/b\"");
    EXPECT_EQ(exchange("GET /items/a+b HTTP/1.1\r\nHost: x\r\n\r\n").second, "\"a+b\"");
    EXPECT_EQ(exchange("GET /search?q=%E5%9C%A8+x&empty&k=a%26b HTTP/1.1\r\nHost: x\r\n\r\n").second,
              "[\"q=在 x\",\"empty=\",\"k=a&b\"]");
}

// HEAD answers as GET without a body (Content-Length of the GET's body, as nginx
// does), HEAD elsewhere is 404/405 without one; the connection stays in step.
TEST_F(HttpServerTest, HeadIsGetWithoutABody) {
    auto [getHead, getBody] = exchange("GET /hello HTTP/1.1\r\nHost: x\r\n\r\n");
    asio::write(socket_, asio::buffer(std::string("HEAD /hello HTTP/1.1\r\nHost: x\r\n\r\n")));
    std::size_t n = asio::read_until(socket_, buffer_, "\r\n\r\n");
    std::string head(asio::buffers_begin(buffer_.data()), asio::buffers_begin(buffer_.data()) + n);
    buffer_.consume(n);
    EXPECT_EQ(head.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << head;
    EXPECT_NE(head.find("Content-Length: " + std::to_string(getBody.size()) + "\r\n"), std::string::npos) << head;
    EXPECT_EQ(buffer_.size(), 0u);
    // Each answer must be a head alone: had a body followed, the next head would not
    // start where the previous one ended.
    for (const char* request : {"HEAD /nothing HTTP/1.1\r\nHost: x\r\n\r\n", "HEAD /submit HTTP/1.1\r\nHost: x\r\n\r\n",
                                "HEAD /items/%zz HTTP/1.1\r\nHost: x\r\n\r\n"}) {
        asio::write(socket_, asio::buffer(std::string(request)));
        n = asio::read_until(socket_, buffer_, "\r\n\r\n");
        std::string answer(asio::buffers_begin(buffer_.data()), asio::buffers_begin(buffer_.data()) + n);
        buffer_.consume(n);
        EXPECT_EQ(answer.rfind("HTTP/1.1 ", 0), 0u) << answer;
        if (answer.find(" 405 ") != std::string::npos) {
            EXPECT_NE(answer.find("\r\nAllow: POST\r\n"), std::string::npos) << answer;
        }
    }
    auto [after, afterBody] = exchange("GET /hello HTTP/1.1\r\nHost: x\r\n\r\n");
    EXPECT_EQ(after.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << after;
    EXPECT_EQ(afterBody, getBody);
}

// The hub keeps its own id (audit, logs, the answer's X-Request-Id); the
// client's, if usable, is kept beside it.
TEST_F(HttpServerTest, KeepsItsOwnRequestIdAndTheClientsBesideIt) {
    auto [head, body] = exchange("GET /ids HTTP/1.1\r\nHost: x\r\nX-Request-Id: client-7\r\n\r\n");
    std::smatch m;
    ASSERT_TRUE(std::regex_search(head, m, std::regex("\r\nX-Request-Id: ([^\r]+)\r\n"))) << head;
    EXPECT_NE(m[1].str(), "client-7");
    EXPECT_EQ(body, "{\"hub\":\"" + m[1].str() + "\",\"client\":\"client-7\"}");
    // Too long, or not printable ASCII: not kept at all.
    auto [head2, body2] = exchange("GET /ids HTTP/1.1\r\nHost: x\r\nX-Request-Id: " + std::string(200, 'a') +
                                   "\r\n\r\n");
    EXPECT_NE(body2.find("\"client\":\"\""), std::string::npos) << body2;
    auto [head3, body3] = exchange("GET /ids HTTP/1.1\r\nHost: x\r\nX-Request-Id: a b\r\n\r\n");
    EXPECT_NE(body3.find("\"client\":\"\""), std::string::npos) << body3;
}

// An exception that is not a std::exception, from a handler or from a completion
// on the I/O thread, must not end the thread (std::terminate) or the server.
TEST_F(HttpServerTest, ExceptionsOfAnyTypeLeaveTheIoThreadServing) {
    auto [thrown, body] = exchange("GET /throws-int HTTP/1.1\r\nHost: x\r\n\r\n");
    EXPECT_EQ(thrown.rfind("HTTP/1.1 500 Internal Server Error\r\n", 0), 0u) << thrown;
    // The timer's completion throws; its request was never answered, so it gets a 500.
    auto [completion, body2] = exchange("GET /completion-throws HTTP/1.1\r\nHost: x\r\n\r\n");
    EXPECT_EQ(completion.rfind("HTTP/1.1 500 Internal Server Error\r\n", 0), 0u) << completion;
    for (int i = 0; i < 3; ++i) {
        auto [fine, body3] = exchange("GET /hello HTTP/1.1\r\nHost: x\r\n\r\n");
        EXPECT_EQ(fine.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << fine;
    }
    hub::test::waitUntil([&] { return server_->inFlight() == 0; }, std::chrono::seconds(5));
    EXPECT_EQ(server_->inFlight(), 0u) << "a request that threw still counts as in flight";
}

TEST_F(HttpServerTest, SendAndAfterFromTwoThreadsAtOnce) {
    for (int i = 0; i < 200; ++i) {
        auto [head, body] = exchange("GET /race HTTP/1.1\r\nHost: x\r\n\r\n");
        ASSERT_EQ(head.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << head;
    }
}

// nginx's lingering close: a client that sends a whole body far over the limit
// before reading gets the complete 413, not a reset (the old 4 MiB cap reset it).
TEST_F(HttpServerTest, AClientSendingAHugeBodyBeforeReadingGetsTheWhole413) {
    const std::size_t size = 20 * 1024 * 1024;
    std::string request = "POST /submit HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: " +
                          std::to_string(size) + "\r\n\r\n";
    boost::system::error_code ec;
    asio::write(socket_, asio::buffer(request), ec);
    ASSERT_FALSE(ec) << ec.message();
    const std::string chunk(1024 * 1024, 'x');
    for (std::size_t sent = 0; sent < size && !ec; sent += chunk.size()) asio::write(socket_, asio::buffer(chunk), ec);
    ASSERT_FALSE(ec) << "sending the body failed: " << ec.message();
    std::string answer;
    char buf[4096];
    for (;;) {
        std::size_t n = socket_.read_some(asio::buffer(buf), ec);
        answer.append(buf, n);
        if (ec) break;
    }
    EXPECT_EQ(ec, asio::error::eof) << ec.message();
    EXPECT_EQ(answer.rfind("HTTP/1.1 413 Payload Too Large\r\n", 0), 0u) << answer.substr(0, 200);
    EXPECT_NE(answer.find("Connection: close\r\n"), std::string::npos);
    EXPECT_EQ(answer.back(), '}') << answer;
}

// Counts what a logger writes.
class CountingChannel : public Poco::Channel {
public:
    void log(const Poco::Message& message) override {
        std::lock_guard lock(mutex_);
        messages_.push_back(message.getText());
    }
    std::size_t count(const std::string& part) {
        std::lock_guard lock(mutex_);
        std::size_t n = 0;
        for (const auto& m : messages_) n += m.find(part) != std::string::npos;
        return n;
    }

private:
    std::mutex mutex_;
    std::vector<std::string> messages_;
};

// Out of descriptors, every accept fails until one is free. Retrying at once was
// a hot loop logging each turn; the server now pauses accepting, logs a line,
// and takes the waiting connections once descriptors are back.
TEST(HttpServerAccept, BacksOffWhenOutOfDescriptors) {
    hub::api::Router router;
    router.add(hub::api::http::verb::get, "/hello", [](const RequestPtr&, Responder r) {
        r.send(Response::json(200, "{}"));
    }, false);
    HttpServer::Options options;
    options.port = 0;
    options.ioThreads = 1;
    options.acceptBackoff = std::chrono::milliseconds(200);
    HttpServer server(options, router);
    Poco::AutoPtr<CountingChannel> channel(new CountingChannel);
    auto& log = Poco::Logger::get("hub.http");
    Poco::AutoPtr<Poco::Channel> previous(log.getChannel(), true);
    log.setChannel(channel);
    server.start();

    asio::io_context io;
    // Created while descriptors are free: connect() needs none.
    std::vector<tcp::socket> clients;
    for (int i = 0; i < 3; ++i) {
        clients.emplace_back(io);
        clients.back().open(tcp::v4());
    }
    rlimit saved{};
    ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &saved), 0);
    const int lowestFree = ::open("/dev/null", O_RDONLY);
    ASSERT_GE(lowestFree, 0);
    ::close(lowestFree);
    rlimit low = saved;
    low.rlim_cur = static_cast<rlim_t>(lowestFree);  // no descriptor can be made now
    ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &low), 0);
    for (auto& c : clients) c.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), server.port()));
    hub::test::waitUntil([&] { return channel->count("accept failed") != 0; });
    // Watch a second of it: a hot loop logs thousands of lines in that time.
    EXPECT_FALSE(hub::test::waitUntil([&] { return channel->count("accept failed") > 2; }, std::chrono::seconds(1)));
    const std::size_t lines = channel->count("accept failed");
    ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &saved), 0);
    EXPECT_GE(lines, 1u);
    EXPECT_LE(lines, 2u) << "accept failures are logged at most once per 10 s";

    // Descriptors are back: the waiting connections are taken and served.
    for (auto& c : clients) {
        asio::write(c, asio::buffer(std::string("GET /hello HTTP/1.1\r\nHost: x\r\n\r\n")));
        asio::streambuf answer;
        asio::read_until(c, answer, "\r\n\r\n");
        std::string head(asio::buffers_begin(answer.data()), asio::buffers_end(answer.data()));
        EXPECT_EQ(head.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << head;
    }
    server.stop(std::chrono::milliseconds(500));
    log.setChannel(previous);
}

// One family's HELP and TYPE once, its samples together, whatever the order of
// the calls; label values escaped; histogram buckets cumulative with _count = +Inf.
TEST(MetricsText, RendersEachFamilyOnceWithItsSamplesTogether) {
    using hub::api::MetricsText;
    MetricsText text;
    for (const char* plugin : {"a", "b\"\\\n"}) {
        text.family("hub_x_total", "X done", MetricsText::Type::Counter).add(1, {{"plugin", plugin}});
        text.family("hub_y", "Y now\nor later", MetricsText::Type::Gauge).add(2.5, {{"plugin", plugin}});
    }
    text.family("hub_empty", "never added to", MetricsText::Type::Gauge);
    hub::api::LatencyHistogram h;
    h.observe(std::chrono::microseconds(100));
    h.observe(std::chrono::microseconds(3000));
    h.observe(std::chrono::seconds(60));
    text.family("hub_z_seconds", "Z", MetricsText::Type::Histogram).addHistogram(h.snapshot(), {{"route", "/r/{id}"}});
    const std::string out = text.str();
    EXPECT_EQ(out.substr(0, out.find("# HELP hub_z_seconds")),
              "# HELP hub_x_total X done\n"
              "# TYPE hub_x_total counter\n"
              "hub_x_total{plugin=\"a\"} 1\n"
              "hub_x_total{plugin=\"b\\\"\\\\\\n\"} 1\n"
              "# HELP hub_y Y now\\nor later\n"
              "# TYPE hub_y gauge\n"
              "hub_y{plugin=\"a\"} 2.5\n"
              "hub_y{plugin=\"b\\\"\\\\\\n\"} 2.5\n");
    EXPECT_EQ(out.find("hub_empty"), std::string::npos);
    EXPECT_NE(out.find("hub_z_seconds_bucket{route=\"/r/{id}\",le=\"0.0005\"} 1\n"), std::string::npos) << out;
    EXPECT_NE(out.find("hub_z_seconds_bucket{route=\"/r/{id}\",le=\"0.005\"} 2\n"), std::string::npos) << out;
    EXPECT_NE(out.find("hub_z_seconds_bucket{route=\"/r/{id}\",le=\"10\"} 2\n"), std::string::npos) << out;
    EXPECT_NE(out.find("hub_z_seconds_bucket{route=\"/r/{id}\",le=\"+Inf\"} 3\n"), std::string::npos) << out;
    EXPECT_NE(out.find("hub_z_seconds_sum{route=\"/r/{id}\"} 60.0031\n"), std::string::npos) << out;
    EXPECT_NE(out.find("hub_z_seconds_count{route=\"/r/{id}\"} 3\n"), std::string::npos) << out;
}

// The server's observer feeds per-route series labelled by the route's pattern,
// never the raw path; unmatched requests share one series.
TEST(RequestMetrics, CountsPerRoutePatternThroughTheObserver) {
    hub::api::Router router;
    router.add(hub::api::http::verb::get, "/items/{id}", [](const RequestPtr&, Responder r) {
        r.send(Response::json(200, "{}"));
    }, false);
    router.add(hub::api::http::verb::post, "/systems/{system}/operations/{operation}",
               [](const RequestPtr&, Responder r) { r.send(Response::json(503, "{}")); }, false);
    hub::api::RequestMetrics metrics;
    metrics.track(router, "/systems/{system}/operations/{operation}",
                  [](const std::string& name) { return name == "loaded"; });
    HttpServer::Options options;
    options.port = 0;
    options.ioThreads = 1;
    HttpServer server(options, router);
    server.setObserver(metrics.observer());
    server.start();
    asio::io_context io;
    tcp::socket socket(io);
    socket.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), server.port()));
    asio::streambuf buffer;
    auto exchange = [&](const std::string& request) {
        asio::write(socket, asio::buffer(request));
        std::size_t n = asio::read_until(socket, buffer, "\r\n\r\n");
        std::string head(asio::buffers_begin(buffer.data()), asio::buffers_begin(buffer.data()) + n);
        buffer.consume(n);
        std::size_t length = std::stoul(head.substr(head.find("Content-Length: ") + 16));
        if (buffer.size() < length) asio::read(socket, buffer, asio::transfer_exactly(length - buffer.size()));
        buffer.consume(length);
    };
    for (const char* id : {"1", "2", "%E5%9C%A8"}) exchange(std::string("GET /items/") + id + " HTTP/1.1\r\nHost: x\r\n\r\n");
    exchange("POST /systems/loaded/operations/x HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n");
    exchange("POST /systems/unknown/operations/x HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n");
    exchange("GET /nothing HTTP/1.1\r\nHost: x\r\n\r\n");
    // The observer runs as each answer is written: wait for the last one.
    std::string out;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    do {
        hub::api::MetricsText text;
        metrics.render(text, {"loaded", "unknown"});
        out = text.str();
    } while (out.find("route=\"unmatched\"") == std::string::npos && std::chrono::steady_clock::now() < deadline);
    server.stop(std::chrono::milliseconds(500));
    EXPECT_NE(out.find("hub_http_request_duration_seconds_count{method=\"GET\",route=\"/items/{id}\"} 3\n"),
              std::string::npos) << out;
    EXPECT_NE(out.find("hub_http_responses_total{method=\"GET\",route=\"/items/{id}\",status_class=\"2xx\"} 3\n"),
              std::string::npos) << out;
    EXPECT_NE(out.find("hub_http_responses_total{method=\"POST\",route=\"/systems/{system}/operations/{operation}\","
                       "status_class=\"5xx\"} 2\n"),
              std::string::npos) << out;
    EXPECT_NE(out.find("hub_http_responses_total{method=\"\",route=\"unmatched\",status_class=\"4xx\"} 1\n"),
              std::string::npos) << out;
    EXPECT_NE(out.find("hub_plugin_call_duration_seconds_count{plugin=\"loaded\"} 1\n"), std::string::npos) << out;
    EXPECT_EQ(out.find("plugin=\"unknown\""), std::string::npos) << "only loaded plugins get a series";
    EXPECT_EQ(out.find("/items/1"), std::string::npos) << "raw paths are never labels";
}

}  // namespace
