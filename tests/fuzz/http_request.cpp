// HTTP request heads (and bodies) as hubd's server receives them: Beast's
// request_parser with the limits HttpServer sets by default, then what the
// server does with a parsed request before any handler runs (the target split,
// X-Request-Id, routing). Several requests in one input are read one after
// another, as on a keep-alive connection. An input is raw bytes off the wire.
#include "ApiRoutes.h"

#include "hub/api/HttpServer.h"

#include <boost/asio/buffer.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>

namespace http = boost::beast::http;

extern "C" int LLVMFuzzerInitialize(int*, char***) {
    hub::fuzz::quietLogging();
    hub::fuzz::apiRoutes();
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static const hub::api::HttpServer::Options limits;
    std::string_view rest(reinterpret_cast<const char*>(data), size);
    for (int requests = 0; requests < 16 && !rest.empty(); ++requests) {
        http::request_parser<http::string_body> parser;
        parser.body_limit(limits.maxBodyBytes);
        parser.header_limit(static_cast<std::uint32_t>(limits.maxHeaderBytes));
        boost::beast::error_code ec;
        // As http::read hands the parser what has arrived: all of it, then EOF.
        while (!parser.is_done()) {
            std::size_t used = parser.put(boost::asio::buffer(rest.data(), rest.size()), ec);
            rest.remove_prefix(used);
            if (ec == http::error::need_more) {
                if (!rest.empty() && used != 0) continue;
                ec = {};
                parser.put_eof(ec);  // the client closed: a complete message or an error
                if (!ec && !parser.is_done()) return 0;
            }
            if (ec) return 0;  // answered 400/413/431 and closed
            if (used == 0 && !parser.is_done()) return 0;
        }
        auto request = std::make_shared<hub::api::Request>();
        request->message = parser.release();
        const bool keepAlive = request->message.keep_alive();
        std::string_view target(request->message.target().data(), request->message.target().size());
        auto q = target.find('?');
        request->path = target.substr(0, q);
        request->query = q == std::string_view::npos ? std::string_view{} : target.substr(q + 1);
        auto rid = request->message.find("X-Request-Id");
        if (rid != request->message.end() && rid->value().size() <= 128) request->requestId = std::string(rid->value());
        request->header("Authorization");
        // Outside any try in the server: an exception here would end hubd.
        const hub::api::Router::Route* route = nullptr;
        hub::fuzz::apiRoutes().match(request->message.method(), request->path, route, request->params);
        if (!keepAlive) break;
    }
    return 0;
}
