#include "hub/http/Url.h"

#include "hub/http/RequestError.h"

#include <cctype>
#include <cstring>

namespace hub::http {

namespace {

bool isHex(char c) { return std::isxdigit(static_cast<unsigned char>(c)) != 0; }

bool equalsIgnoringCase(std::string_view a, std::string_view lower) {
    if (a.size() != lower.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i)
        if (std::tolower(static_cast<unsigned char>(a[i])) != lower[i]) return false;
    return true;
}

[[noreturn]] void bad(const char* why) { throw RequestError(Failure::BadRequest, why); }

}  // namespace

// Parsed by hand for a semantic need, not for speed (docs/bench/api.md measured
// no gain over Poco::URI: 15.5 us of user CPU per call either way). Poco 1.11's
// URI decodes the path as it parses and has no raw-path accessor, so a path's
// %2F would go out as a slash, another resource (ClientTest's
// UrlsGoOutAsWritten); it also takes user info. Boost.URL came with 1.81,
// Debian 12 has 1.74. Fuzzed by tests/fuzz/url.cpp.
Url Url::parse(std::string_view url) {
    if (url.find_first_of(" \t\r\n") != std::string_view::npos) bad("URL holds white space");
    auto schemeEnd = url.find("://");
    if (schemeEnd == std::string_view::npos) bad("URL needs http:// or https://");
    Url parsed;
    std::string_view scheme = url.substr(0, schemeEnd);
    if (equalsIgnoringCase(scheme, "https"))
        parsed.https = true;
    else if (!equalsIgnoringCase(scheme, "http"))
        bad("only http and https URLs are supported");
    std::string_view rest = url.substr(schemeEnd + 3);
    std::string_view authority = rest.substr(0, rest.find_first_of("/?#"));
    if (authority.empty() || authority.find('@') != std::string_view::npos) bad("URL needs a host and no user info");

    std::string_view host, port;
    bool hasPort = false;
    if (authority.front() == '[') {
        auto close = authority.find(']');
        if (close == std::string_view::npos) bad("unclosed [ in the URL's host");
        host = authority.substr(1, close - 1);
        std::string_view after = authority.substr(close + 1);
        if (!after.empty() && after.front() != ':') bad("bad port in URL");
        hasPort = !after.empty();
        if (hasPort) port = after.substr(1);
    } else {
        auto colon = authority.rfind(':');
        host = authority.substr(0, colon);
        hasPort = colon != std::string_view::npos;
        if (hasPort) port = authority.substr(colon + 1);
    }
    if (host.empty()) bad("URL needs a host");
    // A colon belongs only in a bracketed IPv6 literal ("http://::1/" is not one).
    if (authority.front() != '[' && host.find(':') != std::string_view::npos) bad("an IPv6 host must be in brackets");
    for (unsigned char c : host)
        if (c <= 0x20 || c >= 0x7F || std::strchr("\"<>\\^`{|}/?#[]", c))
            bad("the URL's host holds a character it may not");
    parsed.host = host;
    parsed.port = parsed.https ? 443 : 80;
    if (hasPort) {
        unsigned value = 0;
        for (char c : port) value = value * 10 + static_cast<unsigned>(c - '0');
        if (port.empty() || port.size() > 5 || port.find_first_not_of("0123456789") != std::string_view::npos ||
            value == 0 || value > 65535)
            bad("bad port in URL");
        parsed.port = static_cast<unsigned short>(value);
    }

    std::string_view target = rest.substr(authority.size());
    target = target.substr(0, target.find('#'));  // a fragment is the client's own
    if (target.empty() || target.front() == '?') parsed.target = "/";
    static constexpr char kHex[] = "0123456789ABCDEF";
    for (std::size_t i = 0; i < target.size(); ++i) {
        unsigned char c = static_cast<unsigned char>(target[i]);
        if (c == '%' && (i + 2 >= target.size() || !isHex(target[i + 1]) || !isHex(target[i + 2])))
            bad("bad percent-encoding in URL");
        if (c < 0x21 || c >= 0x7F || std::strchr("\"<>\\^`{|}", c)) {
            parsed.target += '%';
            parsed.target += kHex[c >> 4];
            parsed.target += kHex[c & 0xF];
        } else {
            parsed.target += static_cast<char>(c);
        }
    }
    return parsed;
}

std::string Url::origin() const {
    return (https ? "https://" : "http://") + host + ":" + std::to_string(port);
}

}  // namespace hub::http
