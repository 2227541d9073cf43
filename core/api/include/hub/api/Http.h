#pragma once

#include "hub/common/JsonWriter.h"
#include "hub/common/LogContext.h"
#include "hub/common/Utf8.h"

#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace hub::api {

namespace http = boost::beast::http;

using BeastRequest = http::request<http::string_body>;

/// Who is calling, as the authenticator established it.
struct Principal {
    std::string subject;             ///< The user whose rights apply; empty when unauthenticated.
    std::vector<std::string> roles;  ///< From the identity store (e.g. dept:finance:clerk, hub:admin).
    std::vector<std::string> audiences;  ///< student, teacher, staff, visitor (identity store).
    std::string department;          ///< The user's own department id, if known.
    std::string viaService;          ///< The service account acting for subject, if any.
    bool authenticated() const { return !subject.empty(); }
    bool hasRole(std::string_view role) const {
        for (const auto& r : roles)
            if (r == role) return true;
        return false;
    }
};

/// A request as a handler sees it: Beast's message plus what routing found.
/// The server checks the target (checkTarget) before routing: a handler only
/// ever sees a canonical path and a query whose escapes decode to UTF-8.
struct Request {
    BeastRequest message;
    std::string_view path;   ///< Target without the query, into message.target().
    std::string_view query;  ///< After '?', without it; may be empty.
    std::vector<std::pair<std::string_view, std::string>> params;  ///< {name} segments, decoded.
    std::string requestId;        ///< The hub's own id (audit, logs, the X-Request-Id answered).
    std::string clientRequestId;  ///< The client's X-Request-Id, if it sent a usable one; else empty.
    std::string traceId;          ///< The W3C trace id of the client's traceparent header; else empty.
    /// Views of requestId and traceId for log lines (hub/common/LogContext.h): the
    /// server makes it current while it handles the request, and what runs for the
    /// request elsewhere (pool tasks, fibers) carries it.
    log::RequestTag logTag;
    int route = -1;               ///< Index of the matched route in Router::routes(); -1 when none.
    Principal principal;  ///< Set by the authenticator, read by handlers.

    std::string_view header(std::string_view name) const;
    /// A path parameter by name; empty when absent.
    const std::string& param(std::string_view name) const;
    /// The value of a query parameter (percent-decoded), if present.
    bool queryParam(std::string_view name, std::string& value) const;
    /// Every query parameter, percent-decoded, in order.
    std::vector<std::pair<std::string, std::string>> queryParams() const;
};

using RequestPtr = std::shared_ptr<Request>;

/// What checkTarget() found.
struct TargetCheck {
    enum Status {
        Ok,            ///< Route it.
        Malformed,     ///< 400: not origin-form, a bad percent-escape, a byte not allowed in a path,
                       ///< or a segment or query part that decodes to invalid UTF-8 or holds NUL.
        NotCanonical,  ///< 404: an empty segment ("//", a trailing '/'), or a "." or ".." segment
                       ///< (also percent-encoded): such a path never reaches a route.
    };
    Status status = Ok;
    std::string_view path;   ///< Into the target; valid whatever the status.
    std::string_view query;  ///< After '?'; empty when none.
    const char* reason = "";  ///< What was wrong, for the problem's detail.
};

/// Checks a request target once, before routing, so that no handler can meet
/// an undecodable path or query: origin-form only ("/path?query", no fragment);
/// path bytes are RFC 3986 pchars or UTF-8; every '%' is followed by two hex
/// digits; each path segment and each query name and value decodes to
/// well-formed UTF-8 without NUL. Costs one scan of the target; allocates only
/// for a percent-escaped segment longer than the small-string buffer.
TargetCheck checkTarget(std::string_view target);

/// Appends the percent-decoding of s to out ('+' as a space when plusIsSpace,
/// as in a query). Never throws on bad input: a malformed escape is kept as
/// written (checkTarget() has refused those before any handler runs).
void percentDecode(std::string_view s, std::string& out, bool plusIsSpace = false);

/// An answer. Handlers fill status, contentType and body.
struct Response {
    unsigned status = 200;
    std::string contentType = "application/json";
    std::string body;
    std::vector<std::pair<std::string, std::string>> headers;

    static Response json(unsigned status, std::string body) {
        Response r;
        r.status = status;
        r.body = std::move(body);
        return r;
    }
};

using json::appendString;

/// RFC 7807 problem+json. type defaults to about:blank; title to the status text.
Response problem(unsigned status, std::string_view detail, std::string_view title = {},
                 std::string_view type = {});

/// Delivers the answer to a request. Copyable; callable from any thread; only the
/// first send counts (a late plugin answer after a timeout is dropped).
class Responder {
public:
    struct State;
    explicit Responder(std::shared_ptr<State> state) : state_(std::move(state)) {}

    /// Sends response; returns false when an answer was already sent.
    bool send(Response response) const;
    bool sent() const;

    /// Runs fn on the connection's I/O thread after delay, unless already sent.
    void after(std::chrono::milliseconds delay, std::function<void()> fn) const;

private:
    std::shared_ptr<State> state_;
};

using Handler = std::function<void(const RequestPtr&, Responder)>;

}  // namespace hub::api
