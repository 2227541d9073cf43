#pragma once
// A Router with every route docs/api/openapi.json documents (the OpenAPI test
// holds hubd to exactly those), each with a handler that does nothing.

#include "FuzzSupport.h"

#include "hub/api/Router.h"

#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <Poco/String.h>

#include <fstream>
#include <sstream>

namespace hub::fuzz {

inline const hub::api::Router& apiRoutes() {
    static const hub::api::Router* routes = [] {
        auto* router = new hub::api::Router;  // kept for the process's life
        std::ifstream in(HUB_SOURCE_DIR "/docs/api/openapi.json");
        std::stringstream text;
        text << in.rdbuf();
        auto document = Poco::JSON::Parser().parse(text.str()).extract<Poco::JSON::Object::Ptr>();
        auto paths = document->getObject("paths");
        if (!paths) fail("docs/api/openapi.json has no paths");
        for (const auto& [path, item] : *paths)
            for (const auto& [method, operation] : *item.extract<Poco::JSON::Object::Ptr>()) {
                auto verb = boost::beast::http::string_to_verb(Poco::toUpper(method));
                if (verb != boost::beast::http::verb::unknown)
                    router->add(verb, path, [](const hub::api::RequestPtr&, hub::api::Responder) {});
            }
        if (router->routes().empty()) fail("no routes in docs/api/openapi.json");
        return router;
    }();
    return *routes;
}

}  // namespace hub::fuzz
