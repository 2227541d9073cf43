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

#include <Poco/Base64Encoder.h>
#include <Poco/DateTimeFormat.h>
#include <Poco/DateTimeFormatter.h>
#include <Poco/DigestEngine.h>
#include <Poco/FileStream.h>
#include <Poco/SHA1Engine.h>
#include <Poco/StreamCopier.h>

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xpath.h>
#include <libxml/xpathInternals.h>

#include <sys/random.h>

#include <cctype>
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

std::string base64(const std::string& bytes) {
    std::ostringstream out;
    Poco::Base64Encoder encoder(out);
    encoder.rdbuf()->setLineLength(0);
    encoder << bytes;
    encoder.close();
    return out.str();
}

std::string sha1Hex(const std::string& text) {
    Poco::SHA1Engine sha1;
    sha1.update(text);
    return Poco::DigestEngine::digestToHex(sha1.digest());
}

/// The ids the system takes: 1 to 20 letters or digits (its WSDL's a:Id).
std::string requireId(const Poco::JSON::Object::Ptr& input, const std::string& field) {
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
            try {
                Poco::FileInputStream in(*file);
                Poco::StreamCopier::copyToString(in, password_);
            } catch (const Poco::Exception& e) {
                throw campushub::InvalidArgument("config password_file cannot be read: " + e.displayText());
            }
            while (!password_.empty() && std::isspace(static_cast<unsigned char>(password_.back()))) password_.pop_back();
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
        operation("register_course", "Registers a student for a course (选课); idempotent by idempotency_key",
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
        if (request->has("term")) {
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
    // RequestId on every retry of one request: derived from the caller and their key,
    // so two callers' keys never collide and the key itself never reaches the vendor.
    // TODO(ABI 1.1): take the call's idempotency key from the host instead of the input.
    std::string registerCourse(campushub::Call& call, std::string_view input) {
        auto request = campushub::json::parseObject(input);
        const std::string studentId = requireId(request, "student_id");
        const std::string courseId = requireId(request, "course_id");
        std::string requestId;
        if (request->has("idempotency_key")) {
            const std::string key = campushub::json::requireString(request, "idempotency_key", 255);
            for (char c : key)
                if (c < 0x21 || c > 0x7e) throw campushub::InvalidArgument("idempotency_key must be printable ASCII");
            requestId = "hub-" + sha1Hex(subject(call) + "\n" + key);
        }
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

    static std::string subject(const campushub::Call& call) {
        auto caller = campushub::json::parseObject(call.callerJson());
        return caller->optValue<std::string>("subject", "");
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
            const std::string created =
                Poco::DateTimeFormatter::format(Poco::Timestamp(), Poco::DateTimeFormat::ISO8601_FORMAT);
            Poco::SHA1Engine sha1;
            sha1.update(nonce + created + password_);
            const auto& digest = sha1.digest();
            token += "<wsse:Password Type=\"" + std::string(kTokenProfile) + "#PasswordDigest\">" +
                     base64(std::string(digest.begin(), digest.end())) + "</wsse:Password><wsse:Nonce EncodingType=\"" +
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
        Poco::JSON::Object::Ptr problem;
        try {
            problem = campushub::json::parseObject(e.what());
        } catch (const campushub::Error&) {
            return e;
        }
        auto fault = problem->getObject("fault");
        if (!fault) {
            // The envelope this plugin built was refused before sending: its bug, not the caller's.
            const std::string detail = "academic affairs system: " + problem->optValue<std::string>("detail", e.what());
            if (e.status() == CH_ERR_INVALID_ARGUMENT) return campushub::Error(CH_ERR_INTERNAL, detail);
            return campushub::Error(e.status(), detail);
        }
        std::string code = fault->optValue<std::string>("code", "");
        if (auto colon = code.find(':'); colon != std::string::npos) code = code.substr(colon + 1);
        const std::string reason = fault->optValue<std::string>("reason", "");
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

CAMPUSHUB_PLUGIN(AcademicAffairsPlugin, "academic_affairs", "1.0.0")
