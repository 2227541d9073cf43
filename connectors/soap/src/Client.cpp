#include "hub/soap/Client.h"

#include <libxml/tree.h>

#include <algorithm>
#include <optional>

#include "hub/http/Client.h"
#include "hub/xml/Document.h"
#include "hub/xml/Error.h"
#include "hub/xml/Node.h"

namespace hub::soap {

namespace {

constexpr std::string_view kSoap11 = "http://schemas.xmlsoap.org/soap/envelope/";
constexpr std::string_view kSoap12 = "http://www.w3.org/2003/05/soap-envelope";

std::string_view namespaceOf(Version v) {
    return v == Version::Soap11 ? kSoap11 : kSoap12;
}
const char* nameOf(Version v) {
    return v == Version::Soap11 ? "SOAP 1.1" : "SOAP 1.2";
}

std::string trim(std::string s) {
    auto notSpace = [](unsigned char c) { return c != ' ' && c != '\t' && c != '\r' && c != '\n'; };
    s.erase(s.begin(), std::find_if(s.begin(), s.end(), notSpace));
    s.erase(std::find_if(s.rbegin(), s.rend(), notSpace).base(), s.end());
    return s;
}

// "soap:Client.Auth" -> "Client.Auth": the prefix is the document's choice.
std::string localPart(const std::string& qname) {
    auto colon = qname.find(':');
    return colon == std::string::npos ? qname : qname.substr(colon + 1);
}

std::optional<Version> versionFromNamespace(const std::string& uri) {
    if (uri == kSoap11) return Version::Soap11;
    if (uri == kSoap12) return Version::Soap12;
    return std::nullopt;
}

/// The Body of an envelope, or nullopt.
std::optional<xml::Node> bodyOf(const xml::Node& envelope, Version v) {
    for (const auto& child : envelope.children("Body"))
        if (child.namespaceUri() == namespaceOf(v)) return child;
    return std::nullopt;
}

std::optional<xml::Node> childIn(const xml::Node& node, std::string_view name, std::string_view ns) {
    for (const auto& child : node.children(name))
        if (child.namespaceUri() == ns) return child;
    return std::nullopt;
}

Fault readFault(const xml::Node& fault, Version v) {
    Fault f;
    if (v == Version::Soap11) {
        // faultcode, faultstring and detail are unqualified in SOAP 1.1.
        if (auto c = fault.child("faultcode")) f.code = trim(c->text());
        if (auto r = fault.child("faultstring")) f.reason = trim(r->text());
        if (auto d = fault.child("detail")) f.detail = trim(d->text());
        f.sender = localPart(f.code).rfind("Client", 0) == 0;
    } else {
        if (auto code = childIn(fault, "Code", kSoap12)) {
            if (auto value = childIn(*code, "Value", kSoap12)) f.code = trim(value->text());
            f.sender = localPart(f.code) == "Sender";
            // Subcodes refine the code: keep them, they are what vendors put their own codes in.
            auto sub = childIn(*code, "Subcode", kSoap12);
            for (int depth = 0; sub && depth < 8; ++depth) {
                if (auto value = childIn(*sub, "Value", kSoap12)) f.code += "/" + trim(value->text());
                sub = childIn(*sub, "Subcode", kSoap12);
            }
        }
        if (auto reason = childIn(fault, "Reason", kSoap12))
            if (auto text = childIn(*reason, "Text", kSoap12)) f.reason = trim(text->text());
        if (auto d = childIn(fault, "Detail", kSoap12)) f.detail = trim(d->text());
    }
    f.detail = f.detail.substr(0, 4096);
    return f;
}

// A header value may not carry a line break (header injection) or, inside the
// quoted action, a quote.
bool safeHeaderValue(std::string_view s) {
    return std::none_of(s.begin(), s.end(), [](char c) { return c == '\r' || c == '\n' || c == '"' || c == '\0'; });
}

}  // namespace

Client::Client(http::Client& http) : Client(http, Options{}) {}
Client::Client(http::Client& http, const Options& options) : http_(http), options_(options) {}

Version Client::versionOf(std::string_view envelope) {
    xml::ParseOptions po;
    po.maxBytes = envelope.size() + 1;
    po.utf8Only = false;
    try {
        xml::Document doc = xml::Document::parseMemory(envelope, "request envelope", po);
        xml::Node root = doc.root();
        auto version = versionFromNamespace(root.namespaceUri());
        if (root.name() != "Envelope" || !version)
            throw CallError(Failure::InvalidRequest, "the request is not a SOAP envelope: its root is <" + root.name() +
                                                         "> in namespace '" + root.namespaceUri() + "'");
        if (!bodyOf(root, *version)) throw CallError(Failure::InvalidRequest, "the request envelope has no Body");
        return *version;
    } catch (const xml::XmlException& e) {
        throw CallError(Failure::InvalidRequest,
                        std::string("the request envelope is not well-formed XML: ") + e.what());
    }
}

Response Client::call(std::string_view endpoint, std::string_view action, std::string_view envelope,
                      std::chrono::milliseconds timeout, std::string_view extraHeaders) {
    const std::string where(endpoint);
    if (envelope.size() > options_.maxRequestBytes)
        throw CallError(Failure::InvalidRequest, where + ": request envelope of " + std::to_string(envelope.size()) +
                                                     " bytes exceeds the limit of " +
                                                     std::to_string(options_.maxRequestBytes));
    if (!safeHeaderValue(action))
        throw CallError(Failure::InvalidRequest, where + ": the SOAP action contains a quote or a line break");
    Version version = versionOf(envelope);

    std::string headers;
    if (version == Version::Soap11) {
        headers = "Content-Type: text/xml; charset=utf-8\r\nSOAPAction: \"" + std::string(action) + "\"\r\n";
    } else {
        headers = "Content-Type: application/soap+xml; charset=utf-8";
        if (!action.empty()) headers += "; action=\"" + std::string(action) + "\"";
        headers += "\r\n";
    }
    headers += "Accept: text/xml, application/soap+xml\r\n";
    headers += extraHeaders;

    http::Response response;
    try {
        response = http_.request("POST", endpoint, headers, envelope, timeout);
    } catch (const http::RequestError& e) {
        Failure f = e.failure() == http::Failure::Timeout      ? Failure::Timeout
                    : e.failure() == http::Failure::BadRequest ? Failure::InvalidRequest
                                                               : Failure::Unavailable;
        throw CallError(f, where + ": " + e.what());
    }
    const int status = response.status;
    const std::string httpText = "HTTP " + std::to_string(status);
    if (response.body.size() > options_.maxResponseBytes)
        throw CallError(Failure::InvalidResponse,
                        where + ": response of " + std::to_string(response.body.size()) +
                            " bytes exceeds the limit of " + std::to_string(options_.maxResponseBytes),
                        {}, status);

    // Parsed whatever the status: SOAP 1.1 faults come with 500, 1.2 with 400 or 500.
    xml::ParseOptions po;
    po.maxBytes = options_.maxResponseBytes;
    po.utf8Only = false;  // vendor systems here may still answer in GBK; libxml2 converts
    po.keepBlanks = true;
    std::optional<xml::Document> doc;
    std::string parseError;
    try {
        if (!response.body.empty()) doc.emplace(xml::Document::parseMemory(response.body, where, po));
    } catch (const xml::XmlException& e) {
        parseError = e.what();
    }
    if (!doc) {
        if (status < 200 || status >= 300)
            throw CallError(Failure::Unavailable, where + ": " + httpText + " without a SOAP envelope", {}, status);
        throw CallError(Failure::InvalidResponse,
                        where + ": the response is not acceptable XML: " +
                            (parseError.empty() ? std::string("empty body") : parseError),
                        {}, status);
    }
    xml::Node root = doc->root();
    auto answered = versionFromNamespace(root.namespaceUri());
    if (root.name() != "Envelope" || !answered) {
        if (status < 200 || status >= 300)
            throw CallError(Failure::Unavailable, where + ": " + httpText + " without a SOAP envelope", {}, status);
        throw CallError(Failure::InvalidResponse,
                        where + ": the response is not a SOAP envelope (root <" + root.name() + ">)", {}, status);
    }
    if (*answered != version)
        throw CallError(Failure::InvalidResponse,
                        where + ": sent " + nameOf(version) + " but the answer is " + nameOf(*answered), {}, status);
    auto body = bodyOf(root, version);
    if (!body) throw CallError(Failure::InvalidResponse, where + ": the response envelope has no Body", {}, status);
    if (auto fault = childIn(*body, "Fault", namespaceOf(version))) {
        Fault f = readFault(*fault, version);
        std::string message = where + ": SOAP fault " + (f.code.empty() ? std::string("(no code)") : f.code);
        if (!f.reason.empty()) message += ": " + f.reason;
        throw CallError(Failure::Fault, message, std::move(f), status);
    }
    if (status < 200 || status >= 300)
        throw CallError(Failure::Unavailable, where + ": " + httpText + " with an envelope that is not a fault", {},
                        status);

    Response out;
    out.version = version;
    out.httpStatus = status;
    // Hand back the bytes received when they are UTF-8 already; otherwise the
    // document as libxml2 converted it.
    const xmlDoc* raw = doc->raw();
    std::string declared = raw && raw->encoding ? reinterpret_cast<const char*>(raw->encoding) : "";
    std::transform(declared.begin(), declared.end(), declared.begin(),
                   [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
    if (declared.empty() || declared == "UTF-8" || declared == "UTF8")
        out.envelope = std::move(response.body);
    else
        out.envelope = doc->toString();
    return out;
}

}  // namespace hub::soap
