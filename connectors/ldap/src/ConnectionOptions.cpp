#include "hub/ldap/ConnectionOptions.h"

#include <Poco/Util/AbstractConfiguration.h>

namespace hub::ldap {

ConnectionOptions ConnectionOptions::fromConfig(const Poco::Util::AbstractConfiguration& c) {
    ConnectionOptions o;
    using ms = std::chrono::milliseconds;
    o.uri = c.getString("uri", o.uri);
    o.startTls = c.getBool("startTls", o.startTls);
    o.verifyCertificate = c.getBool("verifyCertificate", o.verifyCertificate);
    o.caFile = c.getString("caFile", o.caFile);
    o.bindDn = c.getString("bindDn", o.bindDn);
    o.passwordFile = c.getString("passwordFile", o.passwordFile);
    o.passwordEnv = c.getString("passwordEnv", o.passwordEnv);
    o.connectTimeout = ms(c.getInt64("connectTimeoutMs", o.connectTimeout.count()));
    o.operationTimeout = ms(c.getInt64("operationTimeoutMs", o.operationTimeout.count()));
    o.pageSize = c.getInt("pageSize", o.pageSize);
    o.connectAttempts = c.getInt("connectAttempts", o.connectAttempts);
    o.backoffInitial = ms(c.getInt64("backoffInitialMs", o.backoffInitial.count()));
    o.backoffMax = ms(c.getInt64("backoffMaxMs", o.backoffMax.count()));
    return o;
}

}  // namespace hub::ldap
