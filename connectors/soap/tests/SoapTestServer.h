#pragma once
// A simulated vendor SOAP service on loopback (Poco HTTPServer, port 0), for the
// soap connector's tests and the plugin host's. Paths choose the behaviour:
//   /echo          answers an envelope of the request's version whose Body holds
//                  <r:EchoResponse><r:name>张三</r:name><r:action>ACTION</r:action></r:EchoResponse>
//   /fault         SOAP 1.1 fault (HTTP 500) or SOAP 1.2 fault with a subcode (HTTP 400),
//                  matching the request's version
//   /fault200      a 1.1 fault with HTTP 200
//   /malformed     a truncated envelope
//   /xxe           an envelope with a DOCTYPE declaring an external entity
//   /bomb          an envelope with a "billion laughs" internal entity
//   /huge          a valid 2 MiB envelope
//   /html          HTTP 503 with an HTML page
//   /gbk           a valid 1.1 envelope in GBK declared as such
//   /v12           always answers a SOAP 1.2 envelope
//   /nobody        an envelope without Body
//   /slow          waits 3 s (or until the server stops), then echoes
#include <Poco/Net/HTTPRequestHandler.h>
#include <Poco/Net/HTTPRequestHandlerFactory.h>
#include <Poco/Net/HTTPServer.h>
#include <Poco/Net/HTTPServerParams.h>
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerResponse.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/StreamCopier.h>
#include <Poco/ThreadPool.h>

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

namespace hub::soap::testing {

class SoapTestServer {
public:
    struct Seen {
        std::string path, contentType, soapAction, body;
        std::string traceparent, idempotencyKey;  ///< Those headers of the last request.
        int requests = 0;
    };

    SoapTestServer() : socket_(Poco::Net::SocketAddress("127.0.0.1", 0)) {
        auto* params = new Poco::Net::HTTPServerParams;
        params->setMaxThreads(8);
        params->setKeepAlive(true);
        server_ = std::make_unique<Poco::Net::HTTPServer>(new Factory(*this), pool_, socket_, params);
        server_->start();
    }
    // Connection threads outlive stopAll(); one still answering (/slow) when the
    // test process exits wrote into Poco's statics as they were destroyed (ASan:
    // heap-use-after-free in HTTPServerConnection::sendErrorResponse). So /slow
    // is woken, and the server waits for its connections to end.
    ~SoapTestServer() {
        {
            std::lock_guard lock(mutex_);
            stopping_ = true;
        }
        wake_.notify_all();
        server_->stopAll(true);
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
        while (server_->currentConnections() > 0 && std::chrono::steady_clock::now() < deadline)
            std::this_thread::sleep_for(std::chrono::milliseconds(5));
        // A connection's count drops before its destructor unregisters from the
        // server's stop event (TCPServerDispatcher::run): destroying the server
        // then races it (TSan). The server's own pool, joined, has no thread left.
        pool_.joinAll();
    }

    std::string url(const std::string& path) const {
        return "http://127.0.0.1:" + std::to_string(socket_.address().port()) + path;
    }
    Seen seen() const {
        std::lock_guard lock(mutex_);
        return seen_;
    }

    static constexpr const char* kNs11 = "http://schemas.xmlsoap.org/soap/envelope/";
    static constexpr const char* kNs12 = "http://www.w3.org/2003/05/soap-envelope";

    static std::string envelope(const std::string& ns, const std::string& body) {
        return std::string("<?xml version=\"1.0\" encoding=\"UTF-8\"?>") + "<soap:Envelope xmlns:soap=\"" + ns +
               "\" xmlns:r=\"urn:test:registrar\"><soap:Body>" + body + "</soap:Body></soap:Envelope>";
    }

private:
    class Handler : public Poco::Net::HTTPRequestHandler {
    public:
        explicit Handler(SoapTestServer& s) : s_(s) {}
        void handleRequest(Poco::Net::HTTPServerRequest& req, Poco::Net::HTTPServerResponse& res) override {
            std::string body;
            Poco::StreamCopier::copyToString(req.stream(), body);
            const std::string path = req.getURI();
            const std::string contentType = req.getContentType();
            std::string action = req.get("SOAPAction", "");
            {
                std::lock_guard lock(s_.mutex_);
                s_.seen_.path = path;
                s_.seen_.contentType = contentType;
                s_.seen_.soapAction = action;
                s_.seen_.body = body;
                s_.seen_.traceparent = req.get("traceparent", "");
                s_.seen_.idempotencyKey = req.get("Idempotency-Key", "");
                ++s_.seen_.requests;
            }
            const bool v12 = body.find(kNs12) != std::string::npos;
            const std::string ns = v12 ? kNs12 : kNs11;
            if (v12) {
                auto pos = contentType.find("action=\"");
                action = pos == std::string::npos
                             ? ""
                             : contentType.substr(pos + 8, contentType.find('"', pos + 8) - pos - 8);
            }
            std::string type = v12 ? "application/soap+xml; charset=utf-8" : "text/xml; charset=utf-8";
            int status = 200;
            std::string out;
            if (path == "/echo" || path == "/slow") {
                if (path == "/slow") {
                    std::unique_lock lock(s_.mutex_);
                    s_.wake_.wait_for(lock, std::chrono::seconds(3), [this] { return s_.stopping_; });
                }
                out = envelope(
                    ns, "<r:EchoResponse><r:name>张三</r:name><r:action>" + action + "</r:action></r:EchoResponse>");
            } else if (path == "/fault" && !v12) {
                status = 500;
                out = envelope(ns,
                               "<soap:Fault><faultcode>soap:Client</faultcode><faultstring>学号不存在: "
                               "2023999999</faultstring><detail><r:code>E404</r:code></detail></soap:Fault>");
            } else if (path == "/fault") {
                status = 400;
                out = envelope(ns,
                               "<soap:Fault><soap:Code><soap:Value>soap:Sender</soap:Value><soap:Subcode>"
                               "<soap:Value>r:NoSuchStudent</soap:Value></soap:Subcode></soap:Code><soap:Reason>"
                               "<soap:Text xml:lang=\"zh\">学号不存在</soap:Text></soap:Reason><soap:Detail>"
                               "<r:code>E404</r:code></soap:Detail></soap:Fault>");
            } else if (path == "/fault200") {
                out = envelope(kNs11,
                               "<soap:Fault><faultcode>soap:Server</faultcode><faultstring>database "
                               "offline</faultstring></soap:Fault>");
            } else if (path == "/malformed") {
                out = envelope(ns, "<r:EchoResponse><r:name>张三</r:EchoResponse>");
            } else if (path == "/xxe") {
                out =
                    "<?xml version=\"1.0\"?><!DOCTYPE foo [<!ENTITY xxe SYSTEM \"file:///etc/passwd\">]>"
                    "<soap:Envelope xmlns:soap=\"" +
                    ns + "\"><soap:Body><x>&xxe;</x></soap:Body></soap:Envelope>";
            } else if (path == "/bomb") {
                out =
                    "<?xml version=\"1.0\"?><!DOCTYPE lolz [<!ENTITY lol \"lol\"><!ENTITY lol2 "
                    "\"&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;\">]><soap:Envelope xmlns:soap=\"" +
                    ns + "\"><soap:Body><x>&lol2;</x></soap:Body></soap:Envelope>";
            } else if (path == "/huge") {
                out = envelope(ns, "<r:Blob>" + std::string(2 * 1024 * 1024, 'a') + "</r:Blob>");
            } else if (path == "/html") {
                status = 503;
                type = "text/html";
                out = "<html><body>Service Unavailable</body></html>";
            } else if (path == "/gbk") {
                // 张三 in GBK.
                out = std::string("<?xml version=\"1.0\" encoding=\"GBK\"?><soap:Envelope xmlns:soap=\"") + kNs11 +
                      "\"><soap:Body><name>\xD5\xC5\xC8\xFD</name></soap:Body></soap:Envelope>";
                type = "text/xml; charset=GBK";
            } else if (path == "/v12") {
                out = envelope(kNs12, "<r:Ok/>");
            } else if (path == "/nobody") {
                out = std::string("<soap:Envelope xmlns:soap=\"") + ns + "\"><soap:Header/></soap:Envelope>";
            } else {
                status = 404;
                type = "text/plain";
                out = "no such path";
            }
            res.setStatus(static_cast<Poco::Net::HTTPResponse::HTTPStatus>(status));
            res.setContentType(type);
            res.setContentLength(static_cast<std::streamsize>(out.size()));
            res.send().write(out.data(), static_cast<std::streamsize>(out.size()));
        }

    private:
        SoapTestServer& s_;
    };
    class Factory : public Poco::Net::HTTPRequestHandlerFactory {
    public:
        explicit Factory(SoapTestServer& s) : s_(s) {}
        Poco::Net::HTTPRequestHandler* createRequestHandler(const Poco::Net::HTTPServerRequest&) override {
            return new Handler(s_);
        }

    private:
        SoapTestServer& s_;
    };

    Poco::Net::ServerSocket socket_;
    Poco::ThreadPool pool_{2, 16};  // the server's connection threads, joined before it goes
    std::unique_ptr<Poco::Net::HTTPServer> server_;
    mutable std::mutex mutex_;
    std::condition_variable wake_;
    bool stopping_ = false;
    Seen seen_;
};

}  // namespace hub::soap::testing
