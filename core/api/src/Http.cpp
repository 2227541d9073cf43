#include "hub/api/Http.h"

#include <Poco/URI.h>

#include <boost/beast/http/status.hpp>

namespace hub::api {


namespace {
// Length of the well-formed UTF-8 sequence at p (lead byte c), 0 if malformed.
std::size_t utf8Length(const unsigned char* p, const unsigned char* end) {
    unsigned char c = *p;
    std::size_t len = c >= 0xF0 && c <= 0xF4 ? 4 : c >= 0xE0 ? 3 : c >= 0xC2 && c <= 0xDF ? 2 : 0;
    if (len == 0 || static_cast<std::size_t>(end - p) < len) return 0;
    for (std::size_t i = 1; i < len; ++i)
        if ((p[i] & 0xC0) != 0x80) return 0;
    if (len == 3 && ((c == 0xE0 && p[1] < 0xA0) || (c == 0xED && p[1] >= 0xA0))) return 0;
    if (len == 4 && ((c == 0xF0 && p[1] < 0x90) || (c == 0xF4 && p[1] >= 0x90))) return 0;
    return len;
}
}  // namespace

bool isValidUtf8(std::string_view s) {
    const auto* p = reinterpret_cast<const unsigned char*>(s.data());
    const auto* end = p + s.size();
    while (p < end) {
        if (*p < 0x80) {
            ++p;
            continue;
        }
        std::size_t len = utf8Length(p, end);
        if (!len) return false;
        p += len;
    }
    return true;
}

void appendJsonString(std::string& out, std::string_view s) {
    static const char hex[] = "0123456789abcdef";
    out += '"';
    const auto* p = reinterpret_cast<const unsigned char*>(s.data());
    const auto* end = p + s.size();
    while (p < end) {
        unsigned char c = *p;
        if (c < 0x80) {
            switch (c) {
            case '"': out += "\\\""; break;
            case '\\': out += "\\\\"; break;
            case '\n': out += "\\n"; break;
            case '\r': out += "\\r"; break;
            case '\t': out += "\\t"; break;
            default:
                if (c < 0x20) {
                    out += "\\u00";
                    out += hex[c >> 4];
                    out += hex[c & 0xF];
                } else {
                    out += static_cast<char>(c);
                }
            }
            ++p;
            continue;
        }
        // Copy a well-formed UTF-8 sequence; replace anything else with U+FFFD so
        // the output is always valid JSON.
        std::size_t len = utf8Length(p, end);
        bool ok = len != 0;
        if (ok) {
            out.append(reinterpret_cast<const char*>(p), len);
            p += len;
        } else {
            out += "\\ufffd";
            ++p;
        }
    }
    out += '"';
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
        std::string raw(eq == std::string_view::npos ? std::string_view{} : pair.substr(eq + 1));
        for (auto& c : raw)
            if (c == '+') c = ' ';
        value.clear();
        Poco::URI::decode(raw, value);
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
            std::string in(raw), decoded;
            for (auto& c : in)
                if (c == '+') c = ' ';
            Poco::URI::decode(in, decoded);
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
    appendJsonString(out, type.empty() ? std::string_view("about:blank") : type);
    out += ",\"title\":";
    appendJsonString(out, title.empty() ? std::string_view(reason.data(), reason.size()) : title);
    out += ",\"status\":";
    out += std::to_string(status);
    out += ",\"detail\":";
    appendJsonString(out, detail);
    out += '}';
    return r;
}

}  // namespace hub::api
