#include "hub/common/LogContext.h"

namespace hub::log {

namespace {
thread_local RequestTagPtr tlRequest;
}

const RequestTagPtr& currentRequest() noexcept { return tlRequest; }

RequestTagPtr exchangeCurrentRequest(RequestTagPtr tag) noexcept {
    tlRequest.swap(tag);
    return tag;
}

std::string_view traceIdFromTraceparent(std::string_view h) noexcept {
    // version "-" trace-id "-" parent-id "-" flags; a later version may append fields.
    auto hex = [](std::string_view s) {
        for (char c : s)
            if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
        return true;
    };
    if (h.size() < 55 || h[2] != '-' || h[35] != '-' || h[52] != '-') return {};
    if (!hex(h.substr(0, 2)) || h.substr(0, 2) == "ff") return {};
    if (h.substr(0, 2) == "00" && h.size() != 55) return {};
    std::string_view trace = h.substr(3, 32);
    if (!hex(trace) || !hex(h.substr(36, 16)) || !hex(h.substr(53, 2))) return {};
    if (trace.find_first_not_of('0') == std::string_view::npos) return {};
    return trace;
}

}  // namespace hub::log
