#pragma once

#include "hub/api/Http.h"
#include "hub/api/RouteAccess.h"

#include <string>
#include <vector>

namespace hub::api {

/// Maps method + path pattern to a handler. Patterns are literal segments and
/// {name} segments ("/api/v1/systems/{system}/operations/{operation}"). Routes are
/// added before the server starts; matching is read-only and lock-free.
class Router {
public:
    struct Route {
        http::verb method;
        std::string pattern;
        Handler handler;
        bool authenticated = true;  ///< Needs a valid bearer token.
        RouteAccess access;         ///< What else it needs of the caller (checked after authentication).
    };

    void add(http::verb method, std::string pattern, Handler handler, bool authenticated = true);
    /// An authenticated route whose callers also need what access asks.
    void add(http::verb method, std::string pattern, Handler handler, RouteAccess access);

    enum class Match { Found, NoPath, NoMethod };
    /// Finds the route for method + path; on Found fills params (decoded). HEAD
    /// finds the GET route of the path. The path is taken as checkTarget() passed
    /// it (canonical, escapes well formed).
    Match match(http::verb method, std::string_view path, const Route*& route,
                std::vector<std::pair<std::string_view, std::string>>& params) const;

    /// The methods path answers, for a 405's Allow header ("GET, HEAD, POST").
    std::string allowedMethods(std::string_view path) const;

    const std::vector<Route>& routes() const { return routes_; }

private:
    struct Compiled {
        std::vector<std::string> segments;  // "{x}" marks a parameter
        std::vector<std::string> names;
    };
    std::vector<Route> routes_;
    std::vector<Compiled> compiled_;
};

}  // namespace hub::api
