#pragma once

#include <chrono>
#include <string>

namespace Poco::Util {
class AbstractConfiguration;
}

namespace hub::ldap {

/// How to reach and authenticate to a directory server.
///
/// TLS: `ldaps://` URIs use TLS from the first byte; `ldap://` URIs are upgraded with
/// StartTLS when `startTls` is true. Either way the server certificate is verified
/// against `caFile` (or the system trust store when empty) and the host name in the
/// URI, unless `verifyCertificate` is switched off explicitly.
///
/// The bind password is never stored here: it is read at bind time from
/// `passwordFile` (first line, trailing newline dropped) or the environment variable
/// `passwordEnv`, used, and wiped. It never appears in logs or exception texts.
struct ConnectionOptions {
    std::string uri = "ldap://127.0.0.1:389/";  ///< ldap://host:port/ or ldaps://host:port/
    bool startTls = false;                        ///< Upgrade an ldap:// connection with StartTLS.
    bool verifyCertificate = true;                ///< LDAP_OPT_X_TLS_REQUIRE_CERT demand vs never.
    std::string caFile;                           ///< PEM file of trusted CAs; empty: system store.
    std::string bindDn;                           ///< Empty: anonymous.
    std::string passwordFile;                     ///< File holding the bind password.
    std::string passwordEnv;                      ///< Or: environment variable holding it.
    std::chrono::milliseconds connectTimeout{5000};     ///< TCP connect + TLS handshake.
    std::chrono::milliseconds operationTimeout{30000};  ///< Each bind, search page, sync.
    int pageSize = 1000;                          ///< RFC 2696 page size for searches.
    int connectAttempts = 3;                      ///< Tries per connect, with backoff between.
    std::chrono::milliseconds backoffInitial{200};     ///< First wait; doubles each retry.
    std::chrono::milliseconds backoffMax{5000};        ///< Ceiling for the wait.

    /// Reads the options from a configuration subtree (keys as the member names:
    /// uri, startTls, verifyCertificate, caFile, bindDn, passwordFile, passwordEnv,
    /// connectTimeoutMs, operationTimeoutMs, pageSize, connectAttempts,
    /// backoffInitialMs, backoffMaxMs). Missing keys keep the defaults above.
    static ConnectionOptions fromConfig(const Poco::Util::AbstractConfiguration& config);
};

}  // namespace hub::ldap
