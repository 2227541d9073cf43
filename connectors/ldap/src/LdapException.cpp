#include "hub/ldap/LdapException.h"

#include <ldap.h>

namespace hub::ldap {

namespace {
std::string describe(const std::string& operation, int resultCode, const std::string& diagnostic) {
    std::string text = "LDAP " + operation + " failed: " + ldap_err2string(resultCode) + " (" +
                       std::to_string(resultCode) + ")";
    if (!diagnostic.empty()) text += ": " + diagnostic;
    return text;
}
}  // namespace

LdapException::LdapException(const std::string& operation, int resultCode,
                             const std::string& diagnostic)
    : Poco::Exception(describe(operation, resultCode, diagnostic), resultCode),
      operation_(operation),
      diagnostic_(diagnostic),
      message_(displayText()) {}

bool LdapException::isConnectionError() const {
    switch (resultCode()) {
        case LDAP_SERVER_DOWN:
        case LDAP_CONNECT_ERROR:
        case LDAP_TIMEOUT:
        case LDAP_UNAVAILABLE:
        case LDAP_BUSY:
        case LDAP_TIMELIMIT_EXCEEDED:
            return true;
        default:
            return false;
    }
}

const char* LdapException::name() const noexcept { return "LDAP exception"; }
const char* LdapException::className() const noexcept { return typeid(*this).name(); }
Poco::Exception* LdapException::clone() const { return new LdapException(*this); }
void LdapException::rethrow() const { throw *this; }

}  // namespace hub::ldap
