#include "hub/api/Http.h"

#include <Poco/URI.h>

#include <boost/beast/http/status.hpp>

namespace hub::api {


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
    appendString(out, type.empty() ? std::string_view("about:blank") : type);
    out += ",\"title\":";
    appendString(out, title.empty() ? std::string_view(reason.data(), reason.size()) : title);
    out += ",\"status\":";
    out += std::to_string(status);
    out += ",\"detail\":";
    appendString(out, detail);
    out += '}';
    return r;
}

}  // namespace hub::api
