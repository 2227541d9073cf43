#include "hub/http/Client.h"

#include <Poco/Exception.h>
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Net/HTTPSClientSession.h>
#include <Poco/Net/NetException.h>
#include <Poco/NumberParser.h>
#include <Poco/String.h>
#include <Poco/URI.h>

#include <cstring>
#include <istream>
#include <map>
#include <mutex>
#include <ostream>
#include <vector>

namespace hub::http {

namespace {

using Clock = std::chrono::steady_clock;

struct Pooled {
    std::unique_ptr<Poco::Net::HTTPClientSession> session;
    Clock::time_point idleSince;
};

bool idempotent(std::string_view method) {
    return method == "GET" || method == "HEAD" || method == "PUT" || method == "DELETE" ||
           method == "OPTIONS";
}

bool isToken(std::string_view s) {
    if (s.empty()) return false;
    for (unsigned char c : s)
        if (c <= 0x20 || c >= 0x7F || std::strchr("()<>@,;:\\\"/[]?={}", c)) return false;
    return true;
}

// Framing and connection management are the client's: a plugin that set them
// could split one request into two on a kept-alive connection (smuggling).
bool reservedHeader(std::string_view name) {
    for (const char* h : {"content-length", "transfer-encoding", "connection", "keep-alive", "upgrade", "te", "host",
                          "proxy-connection", "trailer"})
        if (Poco::icompare(std::string(name), h) == 0) return true;
    return false;
}

void applyHeaders(Poco::Net::HTTPRequest& request, std::string_view headers) {
    while (!headers.empty()) {
        auto end = headers.find("\r\n");
        std::string_view line = headers.substr(0, end);
        headers = end == std::string_view::npos ? std::string_view{} : headers.substr(end + 2);
        if (line.empty()) continue;
        if (line.find_first_of("\r\n") != std::string_view::npos)
            throw RequestError(Failure::BadRequest, "a request header holds a bare CR or LF");
        auto colon = line.find(':');
        if (colon == std::string_view::npos || !isToken(line.substr(0, colon)))
            throw RequestError(Failure::BadRequest, "malformed request header '" + std::string(line.substr(0, 64)) + "'");
        if (reservedHeader(line.substr(0, colon))) continue;
        std::string_view value = line.substr(colon + 1);
        while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
        request.set(std::string(line.substr(0, colon)), std::string(value));
    }
}

// Poco::URI is lenient (user info, out-of-range ports wrap): check what we send.
Poco::URI checkedUri(std::string_view url) {
    auto schemeEnd = url.find("://");
    if (schemeEnd == std::string_view::npos) throw RequestError(Failure::BadRequest, "URL needs http:// or https://");
    std::string_view rest = url.substr(schemeEnd + 3);
    std::string_view authority = rest.substr(0, rest.find_first_of("/?#"));
    if (authority.empty() || authority.find('@') != std::string_view::npos ||
        authority.find_first_of(" \t\r\n") != std::string_view::npos)
        throw RequestError(Failure::BadRequest, "URL needs a host and no user info");
    auto colon = authority.rfind(':');
    if (colon != std::string_view::npos && authority.find(']') == std::string_view::npos) {
        std::string_view port = authority.substr(colon + 1);
        unsigned value = 0;
        if (port.empty() || port.size() > 5 || !Poco::NumberParser::tryParseUnsigned(std::string(port), value) ||
            value == 0 || value > 65535)
            throw RequestError(Failure::BadRequest, "bad port in URL");
    }
    if (url.find_first_of(" \t\r\n") != std::string_view::npos)
        throw RequestError(Failure::BadRequest, "URL holds white space");
    Poco::URI uri;
    try {
        uri = Poco::URI(std::string(url));
    } catch (const Poco::Exception& e) {
        throw RequestError(Failure::BadRequest, "bad URL: " + e.message());
    }
    if (uri.getScheme() != "http" && uri.getScheme() != "https")
        throw RequestError(Failure::BadRequest, "only http and https URLs are supported");
    if (uri.getHost().empty()) throw RequestError(Failure::BadRequest, "URL needs a host");
    return uri;
}

}  // namespace

struct Client::Impl {
    Options options;
    std::mutex mutex;
    std::map<std::string, std::vector<Pooled>, std::less<>> idle;

    std::unique_ptr<Poco::Net::HTTPClientSession> take(const std::string& origin,
                                                       const Poco::URI& uri, bool& reused) {
        {
            std::lock_guard lock(mutex);
            auto it = idle.find(origin);
            if (it != idle.end()) {
                auto now = Clock::now();
                while (!it->second.empty()) {
                    Pooled p = std::move(it->second.back());
                    it->second.pop_back();
                    if (now - p.idleSince < options.idleTimeout) {
                        reused = true;
                        return std::move(p.session);
                    }
                }
            }
        }
        reused = false;
        if (uri.getScheme() == "https")
            return std::make_unique<Poco::Net::HTTPSClientSession>(uri.getHost(), uri.getPort());
        return std::make_unique<Poco::Net::HTTPClientSession>(uri.getHost(), uri.getPort());
    }

    void giveBack(const std::string& origin, std::unique_ptr<Poco::Net::HTTPClientSession> s) {
        std::lock_guard lock(mutex);
        auto& list = idle[origin];
        if (list.size() < options.maxIdlePerOrigin) list.push_back({std::move(s), Clock::now()});
    }
};

Client::Client() : Client(Options{}) {}
Client::Client(const Options& options) : impl_(std::make_unique<Impl>()) { impl_->options = options; }
Client::~Client() = default;

Response Client::request(std::string_view method, std::string_view url, std::string_view headers,
                         std::string_view body, std::chrono::milliseconds timeout) {
    if (!isToken(method)) throw RequestError(Failure::BadRequest, "bad HTTP method");
    Poco::URI uri = checkedUri(url);
    if (timeout.count() <= 0) throw RequestError(Failure::Timeout, "deadline already passed");

    std::string origin = uri.getScheme() + "://" + uri.getHost() + ":" + std::to_string(uri.getPort());
    std::string target = uri.getPathAndQuery();
    if (target.empty()) target = "/";

    // A pooled connection the server has closed fails on first use; retry once on
    // a fresh one when that cannot repeat a side effect.
    const auto started = std::chrono::steady_clock::now();
    for (int attempt = 0;; ++attempt) {
        bool reused = false;
        auto session = impl_->take(origin, uri, reused);
        try {
            Poco::Timespan span(static_cast<Poco::Timespan::TimeDiff>(timeout.count()) * 1000);
            session->setTimeout(span, span, span);
            session->setKeepAlive(true);
            Poco::Net::HTTPRequest request(std::string(method), target,
                                           Poco::Net::HTTPMessage::HTTP_1_1);
            request.setKeepAlive(true);
            applyHeaders(request, headers);
            if (!body.empty() || method == "POST" || method == "PUT" || method == "PATCH")
                request.setContentLength(static_cast<std::streamsize>(body.size()));
            std::ostream& out = session->sendRequest(request);
            out.write(body.data(), static_cast<std::streamsize>(body.size()));

            Poco::Net::HTTPResponse response;
            std::istream& in = session->receiveResponse(response);
            Response result;
            result.status = static_cast<int>(response.getStatus());
            const auto length = response.getContentLength64();
            if (response.hasContentLength() && length < 0)
                throw RequestError(Failure::Unavailable, origin + ": invalid Content-Length");
            if (length > 0 && static_cast<std::uint64_t>(length) > impl_->options.maxResponseBytes)
                throw RequestError(Failure::Unavailable, "response larger than the limit");
            thread_local std::string chunk(16 * 1024, '\0');
            if (length > 0) result.body.reserve(static_cast<std::size_t>(length));
            while (in) {
                in.read(chunk.data(), static_cast<std::streamsize>(chunk.size()));
                result.body.append(chunk.data(), static_cast<std::size_t>(in.gcount()));
                if (result.body.size() > impl_->options.maxResponseBytes)
                    throw RequestError(Failure::Unavailable, "response larger than the limit");
            }
            // Poco's streams end quietly on a timeout, a reset or a bad chunk: a
            // short body must not pass for a whole one.
            bool truncated = in.bad() || (length >= 0 && response.hasContentLength() &&
                                          result.body.size() != static_cast<std::size_t>(length));
            if (truncated) {
                if (std::chrono::steady_clock::now() - started >= timeout)
                    throw RequestError(Failure::Timeout, "no whole answer from " + origin + " in time");
                throw RequestError(Failure::Unavailable, origin + ": the answer was cut short");
            }
            for (const auto& [name, value] : response) {
                result.headers += name;
                result.headers += ": ";
                result.headers += value;
                result.headers += "\r\n";
            }
            // Poco 1.11 leaves a chunked answer's trailers in the connection, so
            // such a connection is closed rather than reused.
            if (response.getKeepAlive() && !response.getChunkedTransferEncoding())
                impl_->giveBack(origin, std::move(session));
            return result;
        } catch (const RequestError&) {
            throw;
        } catch (const Poco::TimeoutException&) {
            throw RequestError(Failure::Timeout, "no answer from " + origin + " in time");
        } catch (const Poco::Exception& e) {
            // A reused connection may be closed by the server, or (Poco 1.11 leaves
            // chunked trailers unread) hold leftovers of the previous answer.
            bool stale = reused && (dynamic_cast<const Poco::Net::NoMessageException*>(&e) ||
                                    dynamic_cast<const Poco::Net::ConnectionResetException*>(&e) ||
                                    dynamic_cast<const Poco::Net::MessageException*>(&e));
            if (stale && attempt == 0 && idempotent(method)) continue;
            throw RequestError(Failure::Unavailable, origin + ": " + e.displayText());
        }
    }
}

}  // namespace hub::http
