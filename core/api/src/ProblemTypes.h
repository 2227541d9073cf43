#pragma once

// Problem type URIs and a plugin's error text, shared by the route groups.
// Private to hub::api.

#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include <exception>
#include <string>
#include <string_view>

namespace hub::api::detail {

/// The type URI of a problem answer: urn:campushub:problem:<slug>.
inline std::string problemType(std::string_view slug) {
    return "urn:campushub:problem:" + std::string(slug);
}

/// A plugin's error text, {"detail": "..."} or a plain message; at most 2 KiB of it.
inline std::string pluginErrorDetail(const std::string& body) {
    if (!body.empty() && body.front() == '{') {
        try {
            auto o = Poco::JSON::Parser().parse(body).extract<Poco::JSON::Object::Ptr>();
            if (o->has("detail")) return o->getValue<std::string>("detail");
        } catch (const std::exception&) {
        }
    }
    return body.substr(0, 2048);
}

}  // namespace hub::api::detail
