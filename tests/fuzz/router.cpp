// Router::match and the query decoding of hub::api::Request, on what a client
// puts in a request line. An input is "METHOD TARGET" (a request line without
// the version), e.g. "GET /api/v1/catalog/services?q=%E5%AD%A6%E7%B1%8D".
#include "ApiRoutes.h"

#include <Poco/Exception.h>

extern "C" int LLVMFuzzerInitialize(int*, char***) {
    hub::fuzz::quietLogging();
    hub::fuzz::apiRoutes();
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string_view line(reinterpret_cast<const char*>(data), size);
    auto space = line.find(' ');
    std::string_view name = line.substr(0, space);
    auto method = boost::beast::http::string_to_verb({name.data(), name.size()});
    std::string_view target = space == std::string_view::npos ? std::string_view{} : line.substr(space + 1);

    // As HttpServer splits the target. No try around match: the server calls it
    // outside any, so an exception here would end hubd.
    hub::api::Request request;
    auto q = target.find('?');
    request.path = target.substr(0, q);
    request.query = q == std::string_view::npos ? std::string_view{} : target.substr(q + 1);
    const hub::api::Router::Route* route = nullptr;
    auto match = hub::fuzz::apiRoutes().match(method, request.path, route, request.params);
    if (match == hub::api::Router::Match::Found && !route) hub::fuzz::fail("Found without a route");

    // Handlers decode the query; the server answers what they throw with a 500.
    try {
        request.queryParams();
        std::string value;
        request.queryParam("q", value);
    } catch (const Poco::Exception&) {
    }
    return 0;
}
