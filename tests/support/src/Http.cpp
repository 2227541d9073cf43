#include "hub/test/Http.h"

#include <Poco/Exception.h>
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/StreamCopier.h>
#include <Poco/String.h>
#include <Poco/Timespan.h>
#include <Poco/URI.h>

namespace hub::test {

HttpResponse httpRequest(const std::string& method, const std::string& url, const std::string& body,
                         const std::map<std::string, std::string>& headers, int timeoutMs)
{
    const Poco::URI uri(url);
    Poco::Net::HTTPClientSession session(uri.getHost(), uri.getPort());
    session.setTimeout(Poco::Timespan(static_cast<long>(timeoutMs) * 1000));
    std::string target = uri.getPathEtc();
    if (target.empty())
        target.push_back('/'); // not `= "/"`: GCC 12 warns falsely (-Wrestrict) on that here
    Poco::Net::HTTPRequest request(method, target, Poco::Net::HTTPMessage::HTTP_1_1);
    bool hasContentType = false;
    for (const auto& [name, value] : headers)
    {
        request.set(name, value);
        hasContentType = hasContentType || Poco::icompare(name, "Content-Type") == 0;
    }
    if (!body.empty() && !hasContentType)
        request.setContentType("application/json; charset=utf-8");
    if (!body.empty() || method == "POST" || method == "PUT" || method == "PATCH")
        request.setContentLength(static_cast<std::streamsize>(body.size()));
    std::ostream& out = session.sendRequest(request);
    out.write(body.data(), static_cast<std::streamsize>(body.size()));
    out.flush();
    // A server may answer early (413) and stop reading; the answer is still worth reading.
    const bool sent = static_cast<bool>(out);

    Poco::Net::HTTPResponse response;
    std::istream* inPtr = nullptr;
    try
    {
        inPtr = &session.receiveResponse(response);
    }
    catch (const Poco::Exception&)
    {
        if (sent)
            throw;
        throw Poco::IOException("sending the request body to " + url + " failed and no response came");
    }
    std::istream& in = *inPtr;
    HttpResponse result;
    result.status = static_cast<int>(response.getStatus());
    result.reason = response.getReason();
    for (const auto& [name, value] : response)
        result.headers.add(name, value);
    Poco::StreamCopier::copyToString(in, result.body);
    return result;
}

} // namespace hub::test
