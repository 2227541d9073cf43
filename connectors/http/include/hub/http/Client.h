#pragma once

#include "hub/http/RequestError.h"

#include <chrono>
#include <memory>
#include <string>
#include <string_view>

struct addrinfo;

namespace hub::http {

/// An outbound HTTP response. status 0 never reaches callers: failures throw.
struct Response {
    int status = 0;
    std::string headers;  ///< "Name: value\r\n" lines
    std::string body;
};

/// HTTP/1.1 client for vendor systems, on Boost.Beast, with keep-alive connection
/// pools per origin (scheme, host, port). Thread-safe; a request holds one
/// pooled connection for its duration and no lock while on the network.
/// Called on a hub::runtime::Loop's fiber, a request parks the fiber while it waits
/// (the loop runs other work) and uses that loop's own pool of connections;
/// anywhere else it blocks the calling thread. Destroy it only when no request
/// runs; its idle connections on loops close with it.
class Client {
public:
    struct Options {
        std::size_t maxIdlePerOrigin = 64;             ///< Idle connections kept per origin.
        std::chrono::milliseconds idleTimeout{4000};   ///< Drop idle connections older than this
                                                       ///< (below common server keep-alive of 5 s).
        std::size_t maxResponseBytes = 16 * 1024 * 1024;
        /// PEM file of the CAs that https peers must chain to; empty: the system's
        /// (/etc/ssl/certs). The peer's certificate must also name the URL's host.
        std::string caFile;
        /// How host names are looked up: getaddrinfo, or a function that behaves
        /// like it (its results are freed with freeaddrinfo). nullptr: getaddrinfo.
        /// Lookups run on resolver threads of the client's own; a request waits
        /// for one only until its deadline (then Failure::Timeout), whatever the
        /// lookup does after. For tests, e.g. a resolver that never answers.
        using LookUp = int (*)(const char* host, const char* service, const addrinfo* hints, addrinfo** result);
        LookUp lookUp = nullptr;
    };

    Client();
    explicit Client(const Options& options);
    ~Client();

    /// Performs one request. url is taken apart by Url::parse; headers are
    /// "Name: value\r\n" lines. Throws RequestError when no complete response
    /// arrives within timeout.
    Response request(std::string_view method, std::string_view url, std::string_view headers,
                     std::string_view body, std::chrono::milliseconds timeout);

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace hub::http
