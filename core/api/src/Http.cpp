#include "hub/api/Http.h"
#include "hub/common/PersonalDataMask.h"

#include <boost/beast/http/status.hpp>

#include <cstring>

namespace hub::api {

namespace {

int hexValue(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

// RFC 3986 pchar without pct-encoded: unreserved, sub-delims, ':' and '@'.
// Bytes from 0x80 are allowed as raw UTF-8 (nginx takes them; their decoding is
// checked like an escape's).
bool isPathByte(unsigned char c) {
    if (c >= 0x80) return true;
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
    return std::strchr("-._~!$&'()*+,;=:@", c) != nullptr && c != 0;
}

// Every '%' has two hex digits; reports whether any decoding is needed.
bool escapesWellFormed(std::string_view s, bool& needsDecoding) {
    needsDecoding = false;
    for (std::size_t i = 0; i < s.size(); ++i) {
        const auto c = static_cast<unsigned char>(s[i]);
        if (c == '%') {
            if (i + 2 >= s.size() || hexValue(s[i + 1]) < 0 || hexValue(s[i + 2]) < 0) return false;
            needsDecoding = true;
            i += 2;
        } else if (c >= 0x80) {
            needsDecoding = true;
        }
    }
    return true;
}

// The decoding of s is well-formed UTF-8 without NUL; `decoded` receives it.
bool decodesToText(std::string_view s, std::string& decoded) {
    decoded.clear();
    percentDecode(s, decoded);
    return decoded.find('\0') == std::string::npos && isValidUtf8(decoded);
}

bool isDotSegment(std::string_view s) { return s == "." || s == ".."; }

TargetCheck refuse(TargetCheck r, TargetCheck::Status status, const char* reason) {
    r.status = status;
    r.reason = reason;
    return r;
}

}  // namespace

void percentDecode(std::string_view s, std::string& out, bool plusIsSpace) {
    out.reserve(out.size() + s.size());
    for (std::size_t i = 0; i < s.size(); ++i) {
        char c = s[i];
        if (c == '%' && i + 2 < s.size()) {
            int high = hexValue(s[i + 1]), low = hexValue(s[i + 2]);
            if (high >= 0 && low >= 0) {
                out += static_cast<char>(high * 16 + low);
                i += 2;
                continue;
            }
        }
        out += plusIsSpace && c == '+' ? ' ' : c;
    }
}

TargetCheck checkTarget(std::string_view target) {
    TargetCheck r;
    const auto q = target.find('?');
    r.path = target.substr(0, q);
    r.query = q == std::string_view::npos ? std::string_view{} : target.substr(q + 1);
    // Absolute-form ("http://host/x") is for proxies and "*" for OPTIONS: neither is ours.
    if (r.path.empty() || r.path.front() != '/')
        return refuse(r, TargetCheck::Malformed, "the request target must be a path starting with '/'");
    if (target.find('#') != std::string_view::npos)
        return refuse(r, TargetCheck::Malformed, "a request target has no fragment ('#')");
    std::string decoded;
    if (r.path.size() > 1) {
        std::size_t start = 1;
        for (;;) {
            const auto end = std::min(r.path.find('/', start), r.path.size());
            const std::string_view segment = r.path.substr(start, end - start);
            if (segment.empty())
                return refuse(r, TargetCheck::NotCanonical, "the path has an empty segment ('//' or a trailing '/')");
            for (char c : segment)
                if (c != '%' && !isPathByte(static_cast<unsigned char>(c)))
                    return refuse(r, TargetCheck::Malformed, "the path holds a character that must be percent-encoded");
            bool needsDecoding = false;
            if (!escapesWellFormed(segment, needsDecoding))
                return refuse(r, TargetCheck::Malformed, "the path has a malformed percent-escape");
            if (needsDecoding) {
                if (!decodesToText(segment, decoded))
                    return refuse(r, TargetCheck::Malformed, "a path segment does not decode to UTF-8 text");
                if (isDotSegment(decoded))
                    return refuse(r, TargetCheck::NotCanonical, "the path has a '.' or '..' segment");
            } else if (isDotSegment(segment)) {
                return refuse(r, TargetCheck::NotCanonical, "the path has a '.' or '..' segment");
            }
            if (end == r.path.size()) break;
            start = end + 1;
        }
    }
    // Query names and values, each on its own: a handler decodes them one by one.
    std::string_view rest = r.query;
    while (!rest.empty()) {
        const auto cut = rest.find_first_of("&=");
        const std::string_view part = rest.substr(0, cut);
        rest = cut == std::string_view::npos ? std::string_view{} : rest.substr(cut + 1);
        bool needsDecoding = false;
        if (!escapesWellFormed(part, needsDecoding))
            return refuse(r, TargetCheck::Malformed, "the query has a malformed percent-escape");
        if (needsDecoding && !decodesToText(part, decoded))
            return refuse(r, TargetCheck::Malformed, "a query parameter does not decode to UTF-8 text");
    }
    return r;
}


std::string_view Request::header(std::string_view name) const {
    auto it = message.find(boost::beast::string_view(name.data(), name.size()));
    if (it == message.end()) return {};
    return {it->value().data(), it->value().size()};
}

const std::string& Request::param(std::string_view name) const {
    static const std::string empty;
    for (const auto& [n, v] : params)
        if (n == name) return v;
    return empty;
}

bool Request::queryParam(std::string_view name, std::string& value) const {
    std::string_view q = query;
    while (!q.empty()) {
        auto amp = q.find('&');
        std::string_view pair = q.substr(0, amp);
        q = amp == std::string_view::npos ? std::string_view{} : q.substr(amp + 1);
        auto eq = pair.find('=');
        std::string_view key = pair.substr(0, eq);
        if (key != name) continue;
        value.clear();
        percentDecode(eq == std::string_view::npos ? std::string_view{} : pair.substr(eq + 1), value, true);
        return true;
    }
    return false;
}

std::vector<std::pair<std::string, std::string>> Request::queryParams() const {
    std::vector<std::pair<std::string, std::string>> out;
    std::string_view q = query;
    while (!q.empty()) {
        auto amp = q.find('&');
        std::string_view pair = q.substr(0, amp);
        q = amp == std::string_view::npos ? std::string_view{} : q.substr(amp + 1);
        if (pair.empty()) continue;
        auto eq = pair.find('=');
        auto decode = [](std::string_view raw) {
            std::string decoded;
            percentDecode(raw, decoded, true);
            return decoded;
        };
        out.emplace_back(decode(pair.substr(0, eq)),
                         eq == std::string_view::npos ? std::string() : decode(pair.substr(eq + 1)));
    }
    return out;
}

Response problem(unsigned status, std::string_view detail, std::string_view title, std::string_view type) {
    Response r;
    r.status = status;
    r.contentType = "application/problem+json";
    auto reason = boost::beast::http::obsolete_reason(static_cast<boost::beast::http::status>(status));
    std::string& out = r.body;
    out.reserve(96 + detail.size());
    out += "{\"type\":";
    appendString(out, type.empty() ? std::string_view("about:blank") : type);
    out += ",\"title\":";
    appendString(out, title.empty() ? std::string_view(reason.data(), reason.size()) : title);
    out += ",\"status\":";
    out += std::to_string(status);
    out += ",\"detail\":";
    // A detail may quote what a client or a vendor sent: personal data in it
    // is masked, as in the log (docs/privacy.md, "Masking").
    std::string masked;
    appendString(out, log::maskPersonalData(detail, masked) ? std::string_view(masked) : detail);
    out += '}';
    return r;
}

}  // namespace hub::api
