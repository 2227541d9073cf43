// The HTTP front end on its own, through a raw socket: the exact bytes of the
// status line and headers it writes, keep-alive in both HTTP versions, and that
// a header holding a line break cannot split the answer.
#include "hub/api/HttpServer.h"
#include "hub/api/Router.h"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/write.hpp>

#include <gtest/gtest.h>

#include <string>

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
    std::unique_ptr<HttpServer> server_;
    asio::io_context io_;
    tcp::socket socket_{io_};
    asio::streambuf buffer_;
};

TEST_F(HttpServerTest, WritesTheStatusLineHeadersAndUtf8BodyExactly) {
    auto [head, body] = exchange("GET /hello HTTP/1.1\r\nHost: x\r\nX-Request-Id: req-42\r\n\r\n");
    EXPECT_EQ(head,
              "HTTP/1.1 200 OK\r\n"
              "Server: campushub\r\n"
              "Content-Type: application/json\r\n"
              "X-Request-Id: req-42\r\n"
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
    auto [fine, body3] = exchange("GET /hello HTTP/1.1\r\nHost: x\r\n\r\n");
    EXPECT_EQ(fine.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << fine;
}

}  // namespace
