#pragma once
// hubd's listeners: the API's (http.*) and, when metrics.port is set, the
// metrics' own; started last, once everything they answer from is up.

#include "hub/api/HttpServer.h"

#include <chrono>
#include <memory>
#include <string>

namespace Poco::Util {
class AbstractConfiguration;
}
namespace hub::api {
class RequestMetrics;
class Router;
}  // namespace hub::api
namespace hub::auth {
class Access;
class TokenVerifier;
}  // namespace hub::auth
namespace hub::identity {
class IdentityDirectory;
class StaticDirectory;
}  // namespace hub::identity
namespace hub::store {
class AuditLog;
}

namespace hub::app {

struct Numbers;

/// Who a token's subject is: the static list first, then the synced persons
/// (active ones); a refusal is audited like a route's answer.
api::HttpServer::Authenticator hubAuthenticator(const auth::TokenVerifier& verifier, const auth::Access& access,
                                                const identity::StaticDirectory& directory,
                                                identity::IdentityDirectory& people, store::AuditLog& audit);

class HttpServers {
public:
    /// Makes the API's listener on router; nothing listens before start().
    HttpServers(const Poco::Util::AbstractConfiguration& cfg, const Numbers& numbers, api::Router& router);

    /// Listens: the API, then the metrics' own listener on metricsRouter when
    /// metrics.port is set; writes the port files (http.portFile,
    /// metrics.portFile) once each listens. Throws naming the address keys
    /// when one cannot listen.
    void start(const api::HttpServer::Authenticator& authenticator, api::RequestMetrics& requestMetrics,
               api::Router& metricsRouter);

    /// Stops the metrics' listener, then drains the API's for at most drainTimeout.
    void stop(std::chrono::milliseconds drainTimeout);

    /// Whether every listener's event loops answer (for systemd's watchdog).
    bool heartbeat();

    /// "serving on http://ADDRESS:PORT/", for the service manager's status.
    std::string serving() const;

private:
    const Poco::Util::AbstractConfiguration& cfg_;
    const Numbers& numbers_;
    const api::HttpServer::Options options_;
    api::HttpServer server_;
    std::unique_ptr<api::HttpServer> metricsServer_;
};

}  // namespace hub::app
