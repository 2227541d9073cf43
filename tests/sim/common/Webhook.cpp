#include "Webhook.h"

#include <Poco/DigestEngine.h>
#include <Poco/Exception.h>
#include <Poco/FileStream.h>
#include <Poco/HMACEngine.h>
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/SHA2Engine.h>
#include <Poco/StreamCopier.h>
#include <Poco/URI.h>

#include <cctype>
#include <chrono>

namespace hub::sim {

namespace {

// Poco's HMACEngine reads the block and digest sizes from its engine type.
class Sha256 : public Poco::SHA2Engine {
public:
    enum { BLOCK_SIZE = 64, DIGEST_SIZE = 32 };
    Sha256() : Poco::SHA2Engine(Poco::SHA2Engine::SHA_256) {}
};

}  // namespace

std::string webhookSignature(const std::string& secret, const std::string& timestamp, const std::string& body) {
    Poco::HMACEngine<Sha256> hmac(secret);
    hmac.update(timestamp + "." + body);
    return "sha256=" + Poco::DigestEngine::digestToHex(hmac.digest());
}

Delivery deliverWebhook(const std::string& url, const std::string& secret, const std::string& body,
                        long timestampOffset, bool tamper) {
    const long now =
        std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
    const std::string timestamp = std::to_string(now + timestampOffset);
    Delivery out;
    try {
        const Poco::URI uri(url);
        Poco::Net::HTTPClientSession session(uri.getHost(), uri.getPort());
        session.setTimeout(Poco::Timespan(10, 0));
        Poco::Net::HTTPRequest request(Poco::Net::HTTPRequest::HTTP_POST, uri.getPathEtc(),
                                       Poco::Net::HTTPMessage::HTTP_1_1);
        request.setContentType("application/json");
        request.setContentLength(static_cast<std::streamsize>(body.size()));
        request.set("X-Hub-Timestamp", timestamp);
        request.set("X-Hub-Signature", webhookSignature(secret, timestamp, tamper ? body + " " : body));
        session.sendRequest(request) << body;
        Poco::Net::HTTPResponse response;
        std::istream& in = session.receiveResponse(response);
        Poco::StreamCopier::copyToString(in, out.body);
        out.status = static_cast<int>(response.getStatus());
    } catch (const Poco::Exception& e) {
        out.body = e.displayText();
    }
    return out;
}

std::string readSecretFile(const std::string& path) {
    std::string secret;
    try {
        Poco::FileInputStream in(path);
        Poco::StreamCopier::copyToString(in, secret);
    } catch (const Poco::Exception&) {
        return "";
    }
    while (!secret.empty() && std::isspace(static_cast<unsigned char>(secret.back()))) secret.pop_back();
    return secret;
}

}  // namespace hub::sim
