#pragma once

#include <string>
#include <string_view>

namespace hub::http {

/// An absolute http(s) URL taken apart the way Client sends it: for the request
/// line, the Host header, the connection pool and the resolver.
struct Url {
    bool https = false;
    std::string host;        ///< Without the brackets of an IPv6 literal.
    unsigned short port = 0; ///< The URL's port, else 80 or 443; never 0.
    std::string target;      ///< Path and query as they go in the request line, never empty.

    /// Takes url apart, or throws RequestError(Failure::BadRequest) saying what is
    /// wrong: a scheme other than http(s), user info, no host, an unbracketed IPv6
    /// host, a port outside 1-65535, white space, bad percent-encoding. The path and
    /// query are kept as written (%2F stays %2F); only bytes that may not stand in a
    /// request line (controls, non-ASCII such as UTF-8, "<>\^`{|}) are percent-
    /// encoded. The fragment is dropped.
    static Url parse(std::string_view url);

    /// "http://host:port" or "https://host:port", the key of a connection pool.
    std::string origin() const;
};

}  // namespace hub::http
