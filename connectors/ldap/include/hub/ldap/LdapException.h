#pragma once

#include <Poco/Exception.h>

#include <string>

namespace hub::ldap {

/// An LDAP operation failed. Carries libldap's result code (also in code()) and the
/// server's diagnostic message. Never carries a password: messages are built from the
/// operation name, the result code and the diagnostic only.
class LdapException : public Poco::Exception {
public:
    LdapException(const std::string& operation, int resultCode, const std::string& diagnostic = {});

    /// The LDAP result code (LDAP_SUCCESS, LDAP_SERVER_DOWN, LDAP_INVALID_CREDENTIALS, ...).
    int resultCode() const { return code(); }
    /// The operation that failed ("bind", "search", "StartTLS", ...).
    const std::string& operation() const { return operation_; }
    /// The server's (or libldap's) diagnostic message; may be empty.
    const std::string& diagnostic() const { return diagnostic_; }
    /// True when the failure is about the connection (server down, timeout, connect
    /// error), i.e. reconnecting may help; false for protocol-level refusals.
    bool isConnectionError() const;

    /// The full message (Poco's what() would return only the class name).
    const char* what() const noexcept override { return message_.c_str(); }
    const char* name() const noexcept override;
    const char* className() const noexcept override;
    Poco::Exception* clone() const override;
    void rethrow() const override;

private:
    std::string operation_;
    std::string diagnostic_;
    std::string message_;
};

}  // namespace hub::ldap
