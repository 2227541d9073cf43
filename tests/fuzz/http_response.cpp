// The outbound HTTP client's response reader (connectors/http): an input is
// what a vendor system sends back, byte for byte, through a real socket on
// 127.0.0.1 (the reader is internal to Client.cpp; the socket also covers the
// framing decisions around it: interim 1xx answers, EOF-delimited bodies, the
// body limit, connection reuse). Client::request is documented to throw only
// RequestError.
#include "FuzzSupport.h"

#include "hub/http/Client.h"

#include <chrono>

namespace {

struct Peer {
    hub::fuzz::LoopbackServer server;
    std::unique_ptr<hub::http::Client> client;
    std::string url;
};

Peer& peer() {
    static Peer* p = [] {
        auto* made = new Peer;
        hub::http::Client::Options o;
        o.maxIdlePerOrigin = 0;          // a fresh connection per input: inputs stay independent
        o.maxResponseBytes = 64 * 1024;  // small, so the limit is reached
        made->client = std::make_unique<hub::http::Client>(o);
        made->url = made->server.url("/api/students/2023010001?fields=%E5%A7%93%E5%90%8D");
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
    Peer& p = peer();
    p.server.setReply(std::string_view(reinterpret_cast<const char*>(data), size));
    try {
        auto response = p.client->request("GET", p.url, "Accept: application/json\r\n", "", std::chrono::seconds(10));
        if (response.status < 100 || response.status > 599) hub::fuzz::fail("a status outside 100-599");
        if (response.body.size() > 64 * 1024) hub::fuzz::fail("a body past maxResponseBytes");
    } catch (const hub::http::RequestError& e) {
        // Timeout would mean the client waited on a peer that had already closed.
        if (e.failure() == hub::http::Failure::Timeout) hub::fuzz::fail("timed out on a closed connection", e.what());
    }
    return 0;
}
