#pragma once
// A real hubd with one or more reference adapters from plugins-enabled/, for the
// adapters' end-to-end tests: the caller gives the <plugin> elements and the
// static directory's people; tokens are minted with the hub's test secret.
#include "hub/test/StoreBackend.h"
#include "hub/auth/TokenIssuer.h"
#include "hub/test/ChildProcess.h"
#include "hub/test/Eventually.h"
#include "hub/test/Http.h"
#include "hub/test/TempDir.h"

#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace hub::test::adapters {

inline const std::string kJwtSecret = "adapter-test-secret-0123456789-abcdefghij";

inline std::string token(const std::string& subject) {
    hub::auth::TokenClaims claims;
    claims.subject = subject;
    claims.audience = {"campushub"};
    claims.issuer = "adapter-test";
    claims.lifetime = Poco::Timespan(600, 0);
    return hub::auth::TokenIssuer::hs256(kJwtSecret).issue(claims);
}

inline Poco::JSON::Object::Ptr parse(const std::string& body) {
    return Poco::JSON::Parser().parse(body).extract<Poco::JSON::Object::Ptr>();
}

#ifdef PORTAL_CONSUMER_EXE
/// The reference portal consumer (hub-portal-consumer) as a ZeroMQ peer of the hub:
/// every event the hub relays to it is a line of its output. Start it before the
/// hub and put eventsXml() into the hub's Setup::moreXml.
class PortalPeer {
public:
    explicit PortalPeer(const TempDir& dir) : dir_(dir), port_(freePort()) {
        process_ = std::make_unique<ChildProcess>(
            PORTAL_CONSUMER_EXE,
            ChildProcess::Options{.args = {"--listen", endpoint(), "--public-key", dir.file("portal.pub"),
                                           "--secret-key", dir.file("portal.key"), "--hub-public-key",
                                           dir.file("var/hub-curve.pub")}});
    }
    std::string endpoint() const { return "tcp://127.0.0.1:" + std::to_string(port_); }
    /// The hub's <events> section; waits (bounded) for the peer's public key first.
    std::string eventsXml() const;
    /// Everything the peer printed so far (one JSON event per line, after "listening").
    std::string output() const { return process_->output(); }

private:
    const TempDir& dir_;
    int port_;
    std::unique_ptr<ChildProcess> process_;
};

#endif

/// hubd with the given plugins copied from REFERENCE_PLUGINS_DIR.
class AdapterHub {
public:
    struct Setup {
        std::vector<std::string> plugins;  ///< folder names under plugins-enabled/
        std::string pluginsXml;            ///< <plugin name=...> elements
        std::string peopleXml;             ///< <person .../> elements of identity.static
        std::string moreXml;               ///< other top-level elements of <hub>
        std::string identityXml;           ///< more of <identity> (ldap, sync)
        int port = 0;                      ///< hubd's port (0: any free one)
        std::string storeExtra;            ///< more of <store> (nodeId)
    };

    AdapterHub(const TempDir& dir, const Setup& setup) : dir_(dir) {
        namespace fs = std::filesystem;
        fs::create_directories(dir.file("plugins"));
        for (const auto& p : setup.plugins)
            fs::copy(std::string(REFERENCE_PLUGINS_DIR) + "/" + p, dir.file("plugins/" + p),
                     fs::copy_options::recursive | fs::copy_options::overwrite_existing);
        dir.write("hub.xml", "<hub>\n<http><port>" + std::to_string(setup.port) + "</port><portFile>" + dir.file("hubd.port") +
                                 "</portFile></http>\n" + hub::test::storeXml(dir.file("var"), setup.storeExtra) +
                                 "\n<plugins><dir>" + dir.file("plugins") + "</dir>\n" +
                                 setup.pluginsXml + "</plugins>\n<auth><jwt><hs256Secret>" + kJwtSecret +
                                 "</hs256Secret><issuer>adapter-test</issuer><audience>campushub</audience></jwt></auth>\n"
                                 "<catalog><dir>" CATALOG_DIR "</dir></catalog>\n<calendar><file>" CALENDAR_FILE
                                 "</file></calendar>\n<identity><static>" + setup.peopleXml +
                                 "</static>" + setup.identityXml + "</identity>\n" + setup.moreXml + "</hub>\n");
        std::error_code ignored;
        fs::remove(dir.file("hubd.port"), ignored);  // a hub started before in dir left its port there
        process_ = std::make_unique<ChildProcess>(
            HUBD_EXE, ChildProcess::Options{.args = {"--config", dir.file("hub.xml")}, .portFile = dir.file("hubd.port")});
    }

    std::string url(const std::string& path) const { return process_->url(path); }
    ChildProcess& process() { return *process_; }

    /// POST /api/v1/systems/{system}/operations/{operation} as subject, with an
    /// Idempotency-Key header when idempotencyKey is not empty.
    HttpResponse call(const std::string& subject, const std::string& system, const std::string& operation,
                      const std::string& body, int timeoutMs = 20000, const std::string& idempotencyKey = {}) const {
        std::map<std::string, std::string> headers{{"Authorization", "Bearer " + token(subject)}};
        if (!idempotencyKey.empty()) headers["Idempotency-Key"] = idempotencyKey;
        return httpRequest("POST", url("/api/v1/systems/" + system + "/operations/" + operation), body, headers,
                           timeoutMs);
    }

private:
    const TempDir& dir_;
    std::unique_ptr<ChildProcess> process_;
};

#ifdef PORTAL_CONSUMER_EXE
inline std::string PortalPeer::eventsXml() const {
    waitUntil([&] {
        std::error_code ignored;
        return std::filesystem::exists(dir_.file("portal.pub"), ignored);
    });
    return "<events><consumers><consumer><name>portal</name><endpoint>" + endpoint() +
           "</endpoint><backoffInitialMs>100</backoffInitialMs><backoffMaxMs>500</backoffMaxMs></consumer>"
           "</consumers><peers><peer name=\"portal\"><publicKeyFile>" + dir_.file("portal.pub") +
           "</publicKeyFile><sockets></sockets></peer></peers></events>\n";
}
#endif

}  // namespace hub::test::adapters
