#include "hub/http/Client.h"

#include <Poco/Exception.h>
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Net/HTTPSClientSession.h>
#include <Poco/Net/NetException.h>
#include <Poco/StreamCopier.h>
#include <Poco/URI.h>

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

void applyHeaders(Poco::Net::HTTPRequest& request, std::string_view headers) {
    while (!headers.empty()) {
        auto end = headers.find("\r\n");
        std::string_view line = headers.substr(0, end);
        headers = end == std::string_view::npos ? std::string_view{} : headers.substr(end + 2);
        auto colon = line.find(':');
        if (colon == std::string_view::npos || colon == 0) continue;
        std::string_view value = line.substr(colon + 1);
        while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
        request.set(std::string(line.substr(0, colon)), std::string(value));
    }
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
    Poco::URI uri;
    try {
        uri = Poco::URI(std::string(url));
    } catch (const Poco::Exception& e) {
        throw RequestError(Failure::BadRequest, "bad URL: " + e.message());
    }
    if (uri.getScheme() != "http" && uri.getScheme() != "https")
        throw RequestError(Failure::BadRequest, "only http and https URLs are supported");
    if (timeout.count() <= 0) throw RequestError(Failure::Timeout, "deadline already passed");

    std::string origin = uri.getScheme() + "://" + uri.getHost() + ":" + std::to_string(uri.getPort());
    std::string target = uri.getPathAndQuery();
    if (target.empty()) target = "/";

    // A pooled connection the server has closed fails on first use; retry once on
    // a fresh one when that cannot repeat a side effect.
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
            std::string chunk(16 * 1024, '\0');
            while (in) {
                in.read(chunk.data(), static_cast<std::streamsize>(chunk.size()));
                result.body.append(chunk.data(), static_cast<std::size_t>(in.gcount()));
                if (result.body.size() > impl_->options.maxResponseBytes)
                    throw RequestError(Failure::Unavailable, "response larger than the limit");
            }
            for (const auto& [name, value] : response) {
                result.headers += name;
                result.headers += ": ";
                result.headers += value;
                result.headers += "\r\n";
            }
            if (response.getKeepAlive()) impl_->giveBack(origin, std::move(session));
            return result;
        } catch (const RequestError&) {
            throw;
        } catch (const Poco::TimeoutException&) {
            throw RequestError(Failure::Timeout, "no answer from " + origin + " in time");
        } catch (const Poco::Exception& e) {
            bool stale = reused && (dynamic_cast<const Poco::Net::NoMessageException*>(&e) ||
                                    dynamic_cast<const Poco::Net::ConnectionResetException*>(&e));
            if (stale && attempt == 0 && idempotent(method)) continue;
            throw RequestError(Failure::Unavailable, origin + ": " + e.displayText());
        }
    }
}

}  // namespace hub::http
