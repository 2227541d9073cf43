// Reference adapter for the academic affairs office's system (教务系统): SOAP 1.1,
// document/literal, WS-Security UsernameToken, answers in UTF-8 or GBK. The model
// for vendors whose system is described by a WSDL.
//
// The hub's soap_call does the transport: connection pools, the call's deadline,
// TLS, the envelope's well-formedness, GBK to UTF-8, and telling a SOAP fault from
// an answer. This plugin builds the request envelopes (with the security header),
// reads the answers with XPath, and maps the system's faults to statuses.
#include <campushub/json.hpp>
#include <campushub/plugin.hpp>

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xpath.h>
#include <libxml/xpathInternals.h>

#include <openssl/evp.h>

#include <sys/random.h>

#include <cctype>
#include <ctime>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

namespace {

constexpr const char* kSoapNs = "http://schemas.xmlsoap.org/soap/envelope/";
constexpr const char* kServiceNs = "urn:jwxt:academic:v1";
constexpr const char* kWsseNs = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd";
constexpr const char* kWsuNs = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd";
constexpr const char* kTokenProfile = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0";

// libxml2 takes unsigned char strings (BAD_CAST is a C cast).
const xmlChar* xmlText(const std::string& s) { return reinterpret_cast<const xmlChar*>(s.c_str()); }
const xmlChar* xmlText(const char* s) { return reinterpret_cast<const xmlChar*>(s); }

std::string xmlEscape(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    for (char c : text) {
        switch (c) {
        case '&': out += "&amp;"; break;
        case '<': out += "&lt;"; break;
        case '>': out += "&gt;"; break;
        case '"': out += "&quot;"; break;
        default: out += c;
        }
    }
    return out;
}

// Digests and Base64 from libcrypto: the hub's own Debian package, safe to share
// (docs/sdk/README.md, "Libraries a plugin may link").
std::string base64(const std::string& bytes) {
    std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
    const int length =
        EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                        reinterpret_cast<const unsigned char*>(bytes.data()), static_cast<int>(bytes.size()));
    out.resize(static_cast<std::size_t>(length));
    return out;
}

/// The raw SHA-1 digest of text.
std::string sha1(std::string_view text) {
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned length = 0;
    if (!EVP_Digest(text.data(), text.size(), digest, &length, EVP_sha1(), nullptr))
        throw campushub::Error(CH_ERR_INTERNAL, "SHA-1 failed");
    return std::string(reinterpret_cast<const char*>(digest), length);
}

std::string sha1Hex(std::string_view text) {
    static constexpr char kHex[] = "0123456789abcdef";
    std::string hex;
    for (unsigned char c : sha1(text)) {
        hex += kHex[c >> 4];
        hex += kHex[c & 0x0f];
    }
    return hex;
}

/// The current time as WS-Security's wsu:Created wants it (UTC, xsd:dateTime).
std::string utcNow() {
    const std::time_t now = std::time(nullptr);
    std::tm utc{};
    gmtime_r(&now, &utc);
    char text[32];
    return std::string(text, std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &utc));
}

/// A string member, or empty when absent or not a string.
std::string textOf(const campushub::json::Value& o, std::string_view field) {
    const campushub::json::Value* v = campushub::json::member(o, field);
    return v && v->IsString() ? std::string(v->GetString(), v->GetStringLength()) : std::string();
}

/// The ids the system takes: 1 to 20 letters or digits (its WSDL's a:Id).
std::string requireId(const campushub::json::Value& input, const std::string& field) {
    std::string id = campushub::json::requireString(input, field, 20);
    for (char c : id)
        if (!std::isalnum(static_cast<unsigned char>(c)))
            throw campushub::InvalidArgument(field + " may hold only letters and digits");
    return id;
}

/// A response envelope and XPath over it. The hub hands it over as UTF-8 and has
/// checked it is a well-formed SOAP 1.1 envelope that is not a fault.
class Answer {
public:
    explicit Answer(const std::string& envelope) {
        doc_.reset(xmlReadMemory(envelope.data(), static_cast<int>(envelope.size()), "answer.xml", "UTF-8",
                                 XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING));
        if (!doc_ || doc_->intSubset) throw bad("is not well-formed XML");
        xpath_.reset(xmlXPathNewContext(doc_.get()));
        if (!xpath_) throw std::bad_alloc();
        xmlXPathRegisterNs(xpath_.get(), xmlText("soap"), xmlText(kSoapNs));
        xmlXPathRegisterNs(xpath_.get(), xmlText("a"), xmlText(kServiceNs));
    }

    /// The nodes expression selects, relative to context (or the document).
    std::vector<xmlNodePtr> nodes(const std::string& expression, xmlNodePtr context = nullptr) const {
        xpath_->node = context;
        std::vector<xmlNodePtr> out;
        xmlXPathObjectPtr r = xmlXPathEvalExpression(xmlText(expression), xpath_.get());
        if (r && r->type == XPATH_NODESET && r->nodesetval)
            for (int i = 0; i < r->nodesetval->nodeNr; ++i) out.push_back(r->nodesetval->nodeTab[i]);
        xmlXPathFreeObject(r);
        return out;
    }

    /// The one node expression selects; a 502 naming it when there is none.
    xmlNodePtr one(const std::string& expression, xmlNodePtr context = nullptr) const {
        auto found = nodes(expression, context);
        if (found.empty()) throw bad("lacks " + expression);
        return found.front();
    }

    /// The text of the child element name (in the service namespace) of context.
    std::string text(xmlNodePtr context, const std::string& name, bool required = true) const {
        auto found = nodes("a:" + name, context);
        if (found.empty()) {
            if (required) throw bad("lacks " + name);
            return "";
        }
        xmlChar* content = xmlNodeGetContent(found.front());
        std::string out = content ? reinterpret_cast<const char*>(content) : "";
        xmlFree(content);
        return out;
    }

    /// The answer's element in the Body, e.g. GetTranscriptResponse.
    xmlNodePtr body(const std::string& element) const { return one("/soap:Envelope/soap:Body/a:" + element); }

    static campushub::Error bad(const std::string& what) {
        return campushub::Error(CH_ERR_INTERNAL, "the academic affairs system's answer " + what);
    }

private:
    struct FreeDoc {
        void operator()(xmlDocPtr d) const { xmlFreeDoc(d); }
    };
    struct FreeContext {
        void operator()(xmlXPathContextPtr c) const { xmlXPathFreeContext(c); }
    };
    std::unique_ptr<xmlDoc, FreeDoc> doc_;
    std::unique_ptr<xmlXPathContext, FreeContext> xpath_;
};

/// A decimal the system sends as text, as a JSON number; a 502 when it is not one.
std::string decimal(const std::string& text, const std::string& field) {
    bool digit = false, dot = false;
    for (std::size_t i = 0; i < text.size(); ++i) {
        char c = text[i];
        if (std::isdigit(static_cast<unsigned char>(c))) digit = true;
        else if (c == '.' && !dot && i > 0) dot = true;
        else if (!(c == '-' && i == 0)) throw Answer::bad("has " + field + " '" + text + "', not a number");
    }
    if (!digit) throw Answer::bad("has an empty " + field);
    return text;
}

class AcademicAffairsPlugin : public campushub::Plugin {
public:
    AcademicAffairsPlugin(campushub::Host& host, std::string_view /*config*/) : Plugin(host) {
        xmlInitParser();
        endpoint_ = host.config("endpoint").value_or("");
        if (endpoint_.rfind("http://", 0) != 0 && endpoint_.rfind("https://", 0) != 0)
            throw campushub::InvalidArgument("config endpoint must be an http:// or https:// URL");
        username_ = host.config("username").value_or("");
        if (username_.empty()) throw campushub::InvalidArgument("config username is required");
        if (auto file = host.config("password_file"); file && !file->empty()) {
            std::ifstream in(*file, std::ios::binary);
            if (!in) throw campushub::InvalidArgument("config password_file cannot be read: " + *file);
            std::ostringstream content;
            content << in.rdbuf();
            password_ = content.str();
            while (!password_.empty() && std::isspace(static_cast<unsigned char>(password_.back())))
                password_.pop_back();
        } else {
            password_ = host.config("password").value_or("");
        }
        if (password_.empty()) throw campushub::InvalidArgument("config password_file (or password) is required");
        const std::string type = host.config("password_type").value_or("digest");
        if (type != "digest" && type != "text")
            throw campushub::InvalidArgument("config password_type must be digest or text");
        digest_ = type == "digest";

        operation("get_transcript", "Reads a student's transcript (成绩单)",
                  [this](campushub::Call& call, std::string_view input) { return transcript(call, input); });
        operation("get_course_records", "Lists a student's courses, completed and registered (选课记录)",
                  [this](campushub::Call& call, std::string_view input) { return courseRecords(call, input); });
        operation("register_course", "Registers a student for a course (选课); idempotent by the call's idempotency key",
                  [this](campushub::Call& call, std::string_view input) { return registerCourse(call, input); });
    }

private:
    std::string transcript(campushub::Call& call, std::string_view input) {
        auto request = campushub::json::parseObject(input);
        const std::string studentId = requireId(request, "student_id");
        Answer a(invoke(call, "GetTranscript", "<a:StudentId>" + studentId + "</a:StudentId>"));
        xmlNodePtr response = a.body("GetTranscriptResponse");
        xmlNodePtr student = a.one("a:Student", response);
        std::string out = "{\"student_id\":" + campushub::jsonString(a.text(student, "StudentId")) +
                          ",\"name\":" + campushub::jsonString(a.text(student, "Name")) +
                          ",\"major\":" + campushub::jsonString(a.text(student, "Major", false)) + ",\"records\":[";
        bool first = true;
        for (xmlNodePtr record : a.nodes("a:Records/a:Record", response)) {
            out += first ? "" : ",";
            first = false;
            out += "{\"course_id\":" + campushub::jsonString(a.text(record, "CourseId")) +
                   ",\"course_name\":" + campushub::jsonString(a.text(record, "CourseName")) +
                   ",\"term\":" + campushub::jsonString(a.text(record, "Term")) +
                   ",\"credit\":" + decimal(a.text(record, "Credit"), "Credit") +
                   ",\"score\":" + campushub::jsonString(a.text(record, "Score")) + "}";
        }
        return out + "],\"gpa\":" + decimal(a.text(response, "Gpa"), "Gpa") + "}";
    }

    std::string courseRecords(campushub::Call& call, std::string_view input) {
        auto request = campushub::json::parseObject(input);
        const std::string studentId = requireId(request, "student_id");
        std::string term;
        if (campushub::json::member(request, "term")) {
            term = campushub::json::requireString(request, "term", 11);
            for (char c : term)
                if (!std::isdigit(static_cast<unsigned char>(c)) && c != '-')
                    throw campushub::InvalidArgument("term is like 2024-2025-1");
        }
        Answer a(invoke(call, "GetCourseRecords",
                        "<a:StudentId>" + studentId + "</a:StudentId>" +
                            (term.empty() ? "" : "<a:Term>" + term + "</a:Term>")));
        xmlNodePtr response = a.body("GetCourseRecordsResponse");
        std::string out = "{\"student_id\":" + campushub::jsonString(a.text(response, "StudentId")) + ",\"courses\":[";
        bool first = true;
        for (xmlNodePtr course : a.nodes("a:Courses/a:Course", response)) {
            out += first ? "" : ",";
            first = false;
            out += "{\"course_id\":" + campushub::jsonString(a.text(course, "CourseId")) +
                   ",\"course_name\":" + campushub::jsonString(a.text(course, "CourseName")) +
                   ",\"teacher\":" + campushub::jsonString(a.text(course, "Teacher", false)) +
                   ",\"term\":" + campushub::jsonString(a.text(course, "Term")) +
                   ",\"credit\":" + decimal(a.text(course, "Credit"), "Credit") +
                   ",\"status\":" + campushub::jsonString(a.text(course, "Status")) + "}";
        }
        return out + "]}";
    }

    // The system de-duplicates by RequestId, so the plugin only has to send the same
    // RequestId on every retry of one request: derived from the call's idempotency
    // key (ABI 1.1), which the host scopes by caller (the portal's Idempotency-Key)
    // or makes unique per flow element and attempt; hashed, so the key itself never
    // reaches the vendor and always fits its RequestId.
    std::string registerCourse(campushub::Call& call, std::string_view input) {
        auto request = campushub::json::parseObject(input);
        // The 1.0 adapter took the key as an input field; a caller still sending it
        // expects de-duplication it would silently lose, so it is told instead.
        if (campushub::json::member(request, "idempotency_key"))
            throw campushub::InvalidArgument(
                "idempotency_key is not an input field: send the Idempotency-Key header with the call");
        const std::string studentId = requireId(request, "student_id");
        const std::string courseId = requireId(request, "course_id");
        std::string requestId;
        if (const std::string_view key = call.idempotencyKey(); !key.empty()) requestId = "hub-" + sha1Hex(key);
        Answer a(invoke(call, "RegisterCourse",
                        "<a:StudentId>" + studentId + "</a:StudentId><a:CourseId>" + courseId + "</a:CourseId>" +
                            (requestId.empty() ? "" : "<a:RequestId>" + requestId + "</a:RequestId>")));
        xmlNodePtr response = a.body("RegisterCourseResponse");
        return "{\"registration_id\":" + campushub::jsonString(a.text(response, "RegistrationId")) +
               ",\"student_id\":" + campushub::jsonString(a.text(response, "StudentId")) +
               ",\"course_id\":" + campushub::jsonString(a.text(response, "CourseId")) +
               ",\"registered_at\":" + campushub::jsonString(a.text(response, "RegisteredAt")) +
               ",\"replayed\":" + (a.text(response, "Replayed", false) == "true" ? "true" : "false") + "}";
    }

    /// The wsse:Security header: a UsernameToken with a digest over a fresh nonce and
    /// the time (WSS UsernameToken Profile 1.0), or the password as text.
    std::string securityHeader() const {
        std::string token = "<wsse:UsernameToken><wsse:Username>" + xmlEscape(username_) + "</wsse:Username>";
        if (!digest_) {
            token += "<wsse:Password Type=\"" + std::string(kTokenProfile) + "#PasswordText\">" + xmlEscape(password_) +
                     "</wsse:Password>";
        } else {
            std::string nonce(16, '\0');
            if (getrandom(nonce.data(), nonce.size(), 0) != static_cast<ssize_t>(nonce.size()))
                throw campushub::Error(CH_ERR_INTERNAL, "no random bytes for the WS-Security nonce");
            const std::string created = utcNow();
            token += "<wsse:Password Type=\"" + std::string(kTokenProfile) + "#PasswordDigest\">" +
                     base64(sha1(nonce + created + password_)) + "</wsse:Password><wsse:Nonce EncodingType=\"" +
                     "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-soap-message-security-1.0#Base64Binary\">" +
                     base64(nonce) + "</wsse:Nonce><wsu:Created>" + created + "</wsu:Created>";
        }
        return "<soap:Header><wsse:Security soap:mustUnderstand=\"1\" xmlns:wsse=\"" + std::string(kWsseNs) +
               "\" xmlns:wsu=\"" + kWsuNs + "\">" + token + "</wsse:UsernameToken></wsse:Security></soap:Header>";
    }

    /// Calls operation with the Body content parameters; the response envelope, or the
    /// status the system's answer deserves.
    std::string invoke(campushub::Call& call, const std::string& operation, const std::string& parameters) {
        const std::string envelope = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><soap:Envelope xmlns:soap=\"" +
                                     std::string(kSoapNs) + "\" xmlns:a=\"" + kServiceNs + "\">" + securityHeader() +
                                     "<soap:Body><a:" + operation + ">" + parameters + "</a:" + operation +
                                     "></soap:Body></soap:Envelope>";
        try {
            return host().soapCall(&call, endpoint_, std::string(kServiceNs) + "/" + operation, envelope);
        } catch (const campushub::Error& e) {
            throw mapped(e);
        }
    }

    // The host answers a fault with {"detail", "fault": {"code", "reason", "detail"}}
    // and a status from the fault's side (Client: 400, else 503); the system's own
    // codes say more, so they choose here. Without a fault, the host's status stands:
    // 504 past the deadline, 503 when the system is down or its answer unreadable.
    campushub::Error mapped(const campushub::Error& e) const {
        campushub::json::Document problem;
        try {
            problem = campushub::json::parseObject(e.what());
        } catch (const campushub::Error&) {
            return e;
        }
        const campushub::json::Value* fault = campushub::json::member(problem, "fault");
        if (!fault || !fault->IsObject()) {
            // The envelope this plugin built was refused before sending: its bug, not the caller's.
            std::string detail = textOf(problem, "detail");
            detail = "academic affairs system: " + (detail.empty() ? std::string(e.what()) : detail);
            if (e.status() == CH_ERR_INVALID_ARGUMENT) return campushub::Error(CH_ERR_INTERNAL, detail);
            return campushub::Error(e.status(), detail);
        }
        std::string code = textOf(*fault, "code");
        if (auto colon = code.find(':'); colon != std::string::npos) code = code.substr(colon + 1);
        const std::string reason = textOf(*fault, "reason");
        const std::string text = "academic affairs system: " + code + (reason.empty() ? "" : ": " + reason);
        if (code == "Client.StudentNotFound" || code == "Client.CourseNotFound") return campushub::NotFound(text);
        if (code == "Client.AlreadyRegistered" || code == "Client.CourseFull" || code == "Client.RequestIdReused")
            return campushub::Conflict(text);
        if (code.rfind("Client", 0) == 0) return campushub::InvalidArgument(text);
        if (code == "Server.Maintenance" || code == "Server.Busy") return campushub::Unavailable(text);
        // A refused UsernameToken is the hub's configuration, not the caller's: a
        // gateway error the operator sees, with the reason the system gave.
        if (code == "FailedAuthentication" || code == "InvalidSecurity" || code == "InvalidSecurityToken")
            return campushub::Error(CH_ERR_INTERNAL, text + " (check username and password_file in hub.xml)");
        return campushub::Error(CH_ERR_INTERNAL, text);
    }

    std::string endpoint_, username_, password_;
    bool digest_ = true;
};

}  // namespace

// What it cannot work without: a hub lacking one refuses it, naming the service.
CAMPUSHUB_PLUGIN_REQUIRES(AcademicAffairsPlugin, "academic_affairs", "1.1.0", "soap_call", "call_idempotency_key")
