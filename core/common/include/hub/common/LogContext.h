#pragma once

#include <memory>
#include <string_view>

namespace hub::log {

/// What a log line says about the request that caused it. The views point into
/// the object that owns the tag (the API's Request holds its own), which the
/// shared_ptr keeps alive.
struct RequestTag {
    std::string_view requestId;  ///< The hub's own request id.
    std::string_view traceId;    ///< The W3C trace id (32 hex digits) from traceparent; empty if none.
};

using RequestTagPtr = std::shared_ptr<const RequestTag>;

/// The request the calling thread works for, or null. A thread-local: the HTTP
/// server sets it around a request's handling, a WorkerPool task and a Loop
/// fiber carry the one that was current when they were submitted or spawned
/// (the Loop swaps it on every fiber switch), so every line a request causes
/// names it, on whichever thread or fiber it is written.
const RequestTagPtr& currentRequest() noexcept;

/// Makes `tag` current and returns the previous one (for the Loop's switches).
RequestTagPtr exchangeCurrentRequest(RequestTagPtr tag) noexcept;

/// Sets the current request for a scope, and restores the previous one after.
class RequestScope {
public:
    explicit RequestScope(RequestTagPtr tag) noexcept : previous_(exchangeCurrentRequest(std::move(tag))) {}
    ~RequestScope() { exchangeCurrentRequest(std::move(previous_)); }
    RequestScope(const RequestScope&) = delete;
    RequestScope& operator=(const RequestScope&) = delete;

private:
    RequestTagPtr previous_;
};

/// The trace id of a W3C traceparent header ("00-<32 hex>-<16 hex>-<2 hex>"),
/// or empty when the header is malformed or the id is all zeros.
std::string_view traceIdFromTraceparent(std::string_view traceparent) noexcept;

}  // namespace hub::log
