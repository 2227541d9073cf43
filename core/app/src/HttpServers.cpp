#include "HttpServers.h"
#include "Settings.h"

#include "hub/api/Authentication.h"
#include "hub/api/Metrics.h"
#include "hub/api/RouteAudit.h"
#include "hub/api/Router.h"
#include "hub/identity/IdentityDirectory.h"
#include "hub/identity/StaticDirectory.h"

#include <Poco/File.h>
#include <Poco/FileStream.h>
#include <Poco/Logger.h>
#include <Poco/Util/AbstractConfiguration.h>

#include <stdexcept>

namespace hub::app {

namespace {

// Writes the whole number, then renames: a reader never sees half a port number.
void writePortFile(const std::string& path, std::uint16_t port) {
    {
        Poco::FileOutputStream out(path + ".tmp");
        out << port << "\n";
    }
    Poco::File(path + ".tmp").renameTo(path);
}

// Starts server; a failure names the keys of its address.
void listen(api::HttpServer& server, const api::HttpServer::Options& options, const std::string& keys) {
    try {
        server.start();
    } catch (const std::exception& e) {
        throw std::runtime_error("cannot listen on " + options.address + ":" + std::to_string(options.port) + " (" +
                                 keys + "): " + e.what());
    }
}

}  // namespace

api::HttpServer::Authenticator hubAuthenticator(const auth::TokenVerifier& verifier, const auth::Access& access,
                                                const identity::StaticDirectory& directory,
                                                identity::IdentityDirectory& people, store::AuditLog& audit) {
    return api::makeAuthenticator(
        verifier, access,
        [&directory, &people](const std::string& subject) -> std::optional<api::IdentityInfo> {
            if (const identity::Person* listed = directory.find(subject))
                return api::IdentityInfo{listed->name, listed->department, listed->audience, listed->roles};
            // A SQLite point read by primary key: microseconds from the page cache.
            auto person = people.findById(subject);
            if (!person || person->status != identity::PersonStatus::Active) return std::nullopt;
            return api::IdentityInfo{person->name, person->department, person->audience, person->roles};
        },
        [&audit](const api::Request& r, const api::Response& refusal) {
            api::auditRouteCall(&audit, r, refusal.status);
        });
}

HttpServers::HttpServers(const Poco::Util::AbstractConfiguration& cfg, const Numbers& numbers, api::Router& router)
    : cfg_(cfg),
      numbers_(numbers),
      options_(numbers.serverOptions(cfg.getString("http.address"))),
      server_(options_, router) {}

void HttpServers::start(const api::HttpServer::Authenticator& authenticator, api::RequestMetrics& requestMetrics,
                        api::Router& metricsRouter) {
    auto& log = Poco::Logger::get("hub");
    server_.setAuthenticator(authenticator);
    server_.setObserver(requestMetrics.observer());
    listen(server_, options_, "http.address, http.port");
    if (cfg_.has("metrics.port")) {
        api::HttpServer::Options metricsOptions;
        metricsOptions.address = cfg_.getString("metrics.address", options_.address);
        metricsOptions.port = static_cast<std::uint16_t>(numbers_.metricsPort);
        metricsOptions.ioThreads = 1;
        metricsOptions.maxConnections = 64;
        metricsServer_ = std::make_unique<api::HttpServer>(metricsOptions, metricsRouter);
        metricsServer_->setAuthenticator(authenticator);
        listen(*metricsServer_, metricsOptions, "metrics.address, metrics.port");
        if (cfg_.has("metrics.portFile")) writePortFile(cfg_.getString("metrics.portFile"), metricsServer_->port());
        log.information("metrics on http://%s:%hu/metrics", metricsOptions.address, metricsServer_->port());
    }
    if (cfg_.has("http.portFile")) writePortFile(cfg_.getString("http.portFile"), server_.port());
    log.information("hubd ready on http://%s:%hu/", options_.address, server_.port());
}

void HttpServers::stop(std::chrono::milliseconds drainTimeout) {
    if (metricsServer_) metricsServer_->stop(std::chrono::milliseconds(1000));
    server_.stop(drainTimeout);
}

bool HttpServers::heartbeat() { return server_.heartbeat() && (!metricsServer_ || metricsServer_->heartbeat()); }

std::string HttpServers::serving() const {
    return "serving on http://" + options_.address + ":" + std::to_string(server_.port()) + "/";
}

}  // namespace hub::app
