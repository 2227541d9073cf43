#pragma once

#include <Poco/Net/NameValueCollection.h>

#include <map>
#include <string>

namespace hub::test {

/// What httpRequest() got back.
struct HttpResponse
{
    int status = 0;
    std::string reason;
    Poco::Net::NameValueCollection headers; ///< Case-insensitive names.
    std::string body;

    /// The header's value, or "" when absent.
    std::string header(const std::string& name) const { return headers.get(name, ""); }
};

/// A blocking HTTP/1.1 request on a fresh connection, e.g.
/// `httpRequest("GET", "http://127.0.0.1:8080/students/2023010001")`.
/// A non-empty body without a Content-Type header is sent as application/json.
/// Throws Poco::Exception on connection errors or when `timeoutMs` passes.
HttpResponse httpRequest(const std::string& method, const std::string& url, const std::string& body = "",
                         const std::map<std::string, std::string>& headers = {}, int timeoutMs = 10000);

} // namespace hub::test
