// SOAP envelopes (connectors/soap): an input is the body of a vendor system's
// answer. It is checked as a request envelope (Client::versionOf) and then
// served over HTTP on 127.0.0.1 to Client::call, which parses and judges it as
// the response (Body, Fault in either version, encodings such as GBK). The
// request sent is of the version the input's namespace names, and the status is
// 500 when the input holds a Fault, as services send them. Both are documented to
// throw only CallError.
#include "FuzzSupport.h"

#include "hub/http/Client.h"
#include "hub/soap/Client.h"

#include <chrono>

namespace {

constexpr std::string_view kRequest11 =
    R"(<?xml version="1.0" encoding="UTF-8"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/">)"
    R"(<soap:Body><r:GetStudent xmlns:r="urn:campus:registry"><r:id>2023010001</r:id></r:GetStudent></soap:Body></soap:Envelope>)";
constexpr std::string_view kRequest12 =
    R"(<?xml version="1.0" encoding="UTF-8"?><env:Envelope xmlns:env="http://www.w3.org/2003/05/soap-envelope">)"
    R"(<env:Body><r:GetStudent xmlns:r="urn:campus:registry"><r:id>2023010001</r:id></r:GetStudent></env:Body></env:Envelope>)";

struct Peer {
    hub::fuzz::LoopbackServer server;
    std::unique_ptr<hub::http::Client> http;
    std::unique_ptr<hub::soap::Client> soap;
    std::string url;
};

Peer& peer() {
    static Peer* p = [] {
        auto* made = new Peer;
        hub::http::Client::Options o;
        o.maxIdlePerOrigin = 0;
        made->http = std::make_unique<hub::http::Client>(o);
        made->soap = std::make_unique<hub::soap::Client>(*made->http);
        made->url = made->server.url("/registry/StudentService");
        return made;
    }();
    return *p;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
    hub::fuzz::quietLogging();
    peer();
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string_view envelope(reinterpret_cast<const char*>(data), size);
    try {
        hub::soap::Client::versionOf(envelope);
    } catch (const hub::soap::CallError&) {
    }

    Peer& p = peer();
    const bool soap12 = envelope.find("http://www.w3.org/2003/05/soap-envelope") != std::string_view::npos;
    const bool fault = envelope.find("Fault") != std::string_view::npos;
    std::string reply = fault ? "HTTP/1.1 500 Internal Server Error\r\n" : "HTTP/1.1 200 OK\r\n";
    reply += soap12 ? "Content-Type: application/soap+xml; charset=utf-8\r\n" : "Content-Type: text/xml; charset=utf-8\r\n";
    reply += "Content-Length: " + std::to_string(size) + "\r\n\r\n";
    reply += envelope;
    p.server.setReply(reply);
    try {
        auto response = p.soap->call(p.url, "urn:campus:registry/GetStudent", soap12 ? kRequest12 : kRequest11,
                                     std::chrono::seconds(10));
        if (response.envelope.empty()) hub::fuzz::fail("an empty envelope accepted");
    } catch (const hub::soap::CallError& e) {
        if (e.failure() == hub::soap::Failure::Timeout) hub::fuzz::fail("timed out on a closed connection", e.what());
    }
    return 0;
}
