// hub::http::Url::parse, the outbound client's own URL parser (kept for a
// semantic need, see connectors/http/src/Url.cpp): an input is the URL a plugin
// passes to the host's HTTP service. Oracles: only RequestError(BadRequest) is
// thrown; what is accepted yields a host, a port in 1-65535 and a target that
// may stand in a request line as is; and parsing what the client would send
// again gives the same parts.
#include "FuzzSupport.h"

#include "hub/http/RequestError.h"
#include "hub/http/Url.h"

#include <cctype>
#include <cstring>

namespace {

bool isHex(char c) { return std::isxdigit(static_cast<unsigned char>(c)) != 0; }

void checkTarget(const std::string& target) {
    if (target.empty() || target.front() != '/') hub::fuzz::fail("a target not starting with /", target);
    for (std::size_t i = 0; i < target.size(); ++i) {
        unsigned char c = static_cast<unsigned char>(target[i]);
        if (c < 0x21 || c >= 0x7F || std::strchr("\"<>\\^`{|}#", c))
            hub::fuzz::fail("a byte that may not stand in a request line", target);
        if (c == '%' && (i + 2 >= target.size() || !isHex(target[i + 1]) || !isHex(target[i + 2])))
            hub::fuzz::fail("a bare % in the target", target);
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string_view input(reinterpret_cast<const char*>(data), size);
    hub::http::Url url;
    try {
        url = hub::http::Url::parse(input);
    } catch (const hub::http::RequestError& e) {
        if (e.failure() != hub::http::Failure::BadRequest) hub::fuzz::fail("a failure other than BadRequest", e.what());
        return 0;
    }
    if (url.host.empty()) hub::fuzz::fail("an empty host accepted");
    for (unsigned char c : url.host)
        if (c <= 0x20 || c >= 0x7F || std::strchr("\"<>\\^`{|}/?#[]@", c))
            hub::fuzz::fail("a host with a character it may not hold", url.host);
    if (url.port == 0) hub::fuzz::fail("port 0");
    checkTarget(url.target);

    std::string again = (url.https ? "https://" : "http://");
    again += url.host.find(':') != std::string::npos ? "[" + url.host + "]" : url.host;
    again += ":" + std::to_string(url.port) + url.target;
    hub::http::Url reparsed;
    try {
        reparsed = hub::http::Url::parse(again);
    } catch (const hub::http::RequestError&) {
        hub::fuzz::fail("what the client sends does not parse again", again);
    }
    if (reparsed.https != url.https || reparsed.host != url.host || reparsed.port != url.port ||
        reparsed.target != url.target)
        hub::fuzz::fail("parsing what the client sends gives other parts", again);
    return 0;
}
