// hub-sim-academic-affairs: a stand-in for the academic affairs office's system
// (教务系统), which speaks SOAP 1.1, document/literal, as such systems do:
// a WSDL at ?wsdl, its own namespace, WS-Security UsernameToken on every call
// (PasswordDigest or PasswordText), SOAP faults, answers in UTF-8 or GBK.
//
//   hub-sim-academic-affairs [common options] [--username jwxt-hub] [--password secret]
//       [--password-type digest|text|any] [--encoding utf-8|gbk]
//
// Endpoints:
//   GET  /services/AcademicService?wsdl   the WSDL (soap:address names the Host asked)
//   POST /services/AcademicService        SOAP 1.1: GetTranscript, GetCourseRecords, RegisterCourse
//   GET  /health                          {"status":"ok"}
//   GET  /admin/stats                     {"requests":n,"registrations":n,"replays":n,"auth_failures":n}
//   POST /admin/mode  {"mode":"none|slow|hang|bad_xml|truncated|wrong_encoding|server_fault|
//                      maintenance|html","delay_ms":N,"encoding":"utf-8|gbk"}
// Registrations are the one side effect: RegisterCourse with a RequestId already
// seen answers the first registration again (Replayed=true) and counts a replay.
#include "SimServer.h"

#include <Poco/Base64Decoder.h>
#include <Poco/Base64Encoder.h>
#include <Poco/DateTime.h>
#include <Poco/DateTimeFormat.h>
#include <Poco/DateTimeFormatter.h>
#include <Poco/DateTimeParser.h>
#include <Poco/DigestEngine.h>
#include <Poco/SHA1Engine.h>
#include <Poco/URI.h>

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xpath.h>
#include <libxml/xpathInternals.h>

#include <iconv.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <condition_variable>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <sstream>
#include <vector>

namespace {

using hub::sim::send;
using hub::sim::xmlEscape;

constexpr const char* kSoapNs = "http://schemas.xmlsoap.org/soap/envelope/";
constexpr const char* kServiceNs = "urn:jwxt:academic:v1";
constexpr const char* kWsseNs = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd";
constexpr const char* kWsuNs = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd";
constexpr const char* kDigestType =
    "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordDigest";
constexpr const char* kTextType =
    "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordText";
constexpr const char* kPath = "/services/AcademicService";
constexpr std::size_t kMaxBody = 256 * 1024;

struct Grade {
    std::string courseId, courseName, term, score;
    double credit;
};
struct Student {
    std::string id, name, major;
    std::vector<Grade> grades;
};
struct Course {
    std::string id, name, teacher, term;
    double credit;
    int capacity;
};
struct Registration {
    std::string id, studentId, courseId, registeredAt;
};

enum class Mode { None, Slow, Hang, BadXml, Truncated, WrongEncoding, ServerFault, Maintenance, Html };
const std::map<std::string, Mode> kModes = {
    {"none", Mode::None},          {"slow", Mode::Slow},           {"hang", Mode::Hang},
    {"bad_xml", Mode::BadXml},     {"truncated", Mode::Truncated}, {"wrong_encoding", Mode::WrongEncoding},
    {"server_fault", Mode::ServerFault}, {"maintenance", Mode::Maintenance}, {"html", Mode::Html}};

/// A SOAP fault to answer with.
struct Fault {
    std::string code;  // QName, e.g. "soap:Client.StudentNotFound"
    std::string reason;
    std::string detailCode;
};

// libxml2 takes unsigned char strings (BAD_CAST is a C cast).
const xmlChar* xmlText(const std::string& s) { return reinterpret_cast<const xmlChar*>(s.c_str()); }
const xmlChar* xmlText(const char* s) { return reinterpret_cast<const xmlChar*>(s); }

std::string toGbk(const std::string& utf8) {
    iconv_t cd = iconv_open("GBK", "UTF-8");
    if (cd == reinterpret_cast<iconv_t>(-1)) throw std::runtime_error("iconv has no GBK");
    std::string out(utf8.size() * 2 + 16, '\0');
    char* in = const_cast<char*>(utf8.data());
    std::size_t inLeft = utf8.size();
    char* o = out.data();
    std::size_t outLeft = out.size();
    const std::size_t rc = iconv(cd, &in, &inLeft, &o, &outLeft);
    iconv_close(cd);
    if (rc == static_cast<std::size_t>(-1)) throw std::runtime_error("text not representable in GBK");
    out.resize(out.size() - outLeft);
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

std::string unbase64(const std::string& text) {
    std::istringstream in(text);
    Poco::Base64Decoder decoder(in);
    std::string out;
    char c;
    while (decoder.get(c)) out += c;
    return out;
}

std::string nowIso() {
    return Poco::DateTimeFormatter::format(Poco::Timestamp(), Poco::DateTimeFormat::ISO8601_FORMAT);
}

class Simulator {
public:
    Simulator(const hub::sim::Options& options)
        : username_(options.ownString("username", "jwxt-hub")),
          password_(options.ownString("password", "jwxt-secret")),
          passwordType_(options.ownString("password-type", "any")),
          gbk_(options.ownString("encoding", "utf-8") == "gbk") {
        if (passwordType_ != "digest" && passwordType_ != "text" && passwordType_ != "any")
            throw std::invalid_argument("--password-type must be digest, text or any");
        students_["2023010001"] = {"2023010001", "张三", "软件工程",
                                   {{"CS101", "数据结构", "2023-2024-1", "92", 4.0},
                                    {"MA101", "高等数学（上）", "2023-2024-1", "85.5", 5.0},
                                    {"PE101", "体育（一）", "2023-2024-1", "优秀", 1.0}}};
        students_["2022020015"] = {"2022020015", "王小明", "数学与应用数学",
                                   {{"MA201", "实变函数", "2023-2024-2", "78", 3.0}}};
        students_["2023070009"] = {"2023070009", "阿依古丽·买买提", "临床医学", {}};
        courses_["CS201"] = {"CS201", "操作系统", "李老师", "2024-2025-1", 3.5, 120};
        courses_["CS301"] = {"CS301", "编译原理", "王老师", "2024-2025-1", 3.0, 60};
        courses_["HI101"] = {"HI101", "中国近现代史纲要", "赵老师", "2024-2025-1", 2.0, 1};
        registrations_.push_back({"R-000000", "2023010001", "CS101", "2023-09-01T08:00:00Z"});
    }

    // --- modes and counters -------------------------------------------------------------
    void setMode(Mode mode, int delayMs) {
        {
            std::lock_guard lock(mutex_);
            mode_ = mode;
            delayMs_ = delayMs;
        }
        changed_.notify_all();
    }
    Mode mode(int& delayMs) const {
        std::lock_guard lock(mutex_);
        delayMs = delayMs_;
        return mode_;
    }
    void setGbk(bool gbk) {
        std::lock_guard lock(mutex_);
        gbk_ = gbk;
    }
    bool gbk() const {
        std::lock_guard lock(mutex_);
        return gbk_;
    }
    void waitFor(int ms, bool untilModeChanges) {
        std::unique_lock lock(mutex_);
        Mode at = mode_;
        changed_.wait_for(lock, std::chrono::milliseconds(ms),
                          [&] { return stopping_ || (untilModeChanges && mode_ != at); });
    }
    void stop() {
        {
            std::lock_guard lock(mutex_);
            stopping_ = true;
        }
        changed_.notify_all();
    }
    void countRequest() {
        std::lock_guard lock(mutex_);
        ++requests_;
    }
    std::string stats() const {
        std::lock_guard lock(mutex_);
        return "{\"requests\":" + std::to_string(requests_) + ",\"registrations\":" + std::to_string(written_) +
               ",\"replays\":" + std::to_string(replays_) + ",\"auth_failures\":" + std::to_string(authFailures_) +
               "}";
    }

    // --- WS-Security ---------------------------------------------------------------------
    /// Checks the UsernameToken; a fault when it does not pass.
    std::optional<Fault> authenticate(const std::string& user, const std::string& password, const std::string& type,
                                      const std::string& nonce, const std::string& created) {
        auto refuse = [&](const std::string& why) {
            std::lock_guard lock(mutex_);
            ++authFailures_;
            return Fault{"wsse:FailedAuthentication", "身份验证失败: " + why, "AUTH_FAILED"};
        };
        if (user.empty()) return refuse("no UsernameToken");
        if (user != username_) return refuse("unknown user");
        if (type == kTextType || type.empty()) {
            if (passwordType_ == "digest") return refuse("PasswordText is not accepted");
            if (password != password_) return refuse("wrong password");
            return std::nullopt;
        }
        if (type != kDigestType) return refuse("unknown password type");
        if (passwordType_ == "text") return refuse("PasswordDigest is not accepted");
        if (nonce.empty() || created.empty()) return refuse("a digest needs Nonce and Created");
        int tz = 0;
        Poco::DateTime at;
        if (!Poco::DateTimeParser::tryParse(Poco::DateTimeFormat::ISO8601_FRAC_FORMAT, created, at, tz) &&
            !Poco::DateTimeParser::tryParse(Poco::DateTimeFormat::ISO8601_FORMAT, created, at, tz))
            return refuse("Created is not an ISO 8601 time");
        const Poco::Timespan skew = Poco::Timestamp() - at.timestamp();
        if (std::abs(skew.totalSeconds()) > 300) return refuse("Created is more than 5 minutes off");
        const std::string rawNonce = unbase64(nonce);
        Poco::SHA1Engine sha1;
        sha1.update(rawNonce + created + password_);
        const auto& digest = sha1.digest();
        if (base64(std::string(digest.begin(), digest.end())) != password) return refuse("wrong password digest");
        std::lock_guard lock(mutex_);
        if (nonces_.size() > 100000) nonces_.clear();  // bounded; Created bounds replays anyway
        if (!nonces_.insert(nonce).second) {
            ++authFailures_;
            return Fault{"wsse:FailedAuthentication", "身份验证失败: nonce already used", "AUTH_REPLAY"};
        }
        return std::nullopt;
    }

    // --- the operations (answer: the Body's content, or a fault) -------------------------------
    const Student* student(const std::string& id) const {
        auto it = students_.find(id);
        return it == students_.end() ? nullptr : &it->second;
    }

    std::string transcript(const Student& s) const {
        std::string out = "<a:GetTranscriptResponse xmlns:a=\"" + std::string(kServiceNs) + "\"><a:Student><a:StudentId>" +
                          xmlEscape(s.id) + "</a:StudentId><a:Name>" + xmlEscape(s.name) + "</a:Name><a:Major>" +
                          xmlEscape(s.major) + "</a:Major></a:Student><a:Records>";
        double points = 0, credits = 0;
        for (const Grade& g : s.grades) {
            out += "<a:Record><a:CourseId>" + xmlEscape(g.courseId) + "</a:CourseId><a:CourseName>" +
                   xmlEscape(g.courseName) + "</a:CourseName><a:Term>" + g.term + "</a:Term><a:Credit>" +
                   trimNumber(g.credit) + "</a:Credit><a:Score>" + xmlEscape(g.score) + "</a:Score></a:Record>";
            char* end = nullptr;
            double score = std::strtod(g.score.c_str(), &end);
            if (end && *end == '\0') {
                points += (score >= 60 ? (score - 50) / 10 : 0) * g.credit;
                credits += g.credit;
            }
        }
        out += "</a:Records><a:Gpa>" + (credits > 0 ? trimNumber(points / credits) : std::string("0")) +
               "</a:Gpa></a:GetTranscriptResponse>";
        return out;
    }

    std::string courseRecords(const Student& s, const std::string& term) const {
        std::lock_guard lock(mutex_);
        std::string out = "<a:GetCourseRecordsResponse xmlns:a=\"" + std::string(kServiceNs) + "\"><a:StudentId>" +
                          xmlEscape(s.id) + "</a:StudentId><a:Courses>";
        auto add = [&](const std::string& id, const std::string& name, const std::string& courseTerm, double credit,
                       const std::string& status, const std::string& teacher) {
            if (!term.empty() && term != courseTerm) return;
            out += "<a:Course><a:CourseId>" + xmlEscape(id) + "</a:CourseId><a:CourseName>" + xmlEscape(name) +
                   "</a:CourseName><a:Teacher>" + xmlEscape(teacher) + "</a:Teacher><a:Term>" + courseTerm +
                   "</a:Term><a:Credit>" + trimNumber(credit) + "</a:Credit><a:Status>" + status +
                   "</a:Status></a:Course>";
        };
        for (const Grade& g : s.grades) add(g.courseId, g.courseName, g.term, g.credit, "completed", "");
        for (const Registration& r : registrations_) {
            if (r.studentId != s.id) continue;
            if (auto c = courses_.find(r.courseId); c != courses_.end())
                add(c->second.id, c->second.name, c->second.term, c->second.credit, "registered", c->second.teacher);
        }
        return out + "</a:Courses></a:GetCourseRecordsResponse>";
    }

    /// Registers, or answers the registration an earlier call with requestId made.
    std::string registerCourse(const Student& s, const std::string& courseId, const std::string& requestId,
                               std::optional<Fault>& fault) {
        std::lock_guard lock(mutex_);
        bool replayed = false;
        const Registration* made = nullptr;
        if (!requestId.empty()) {
            if (auto it = byRequest_.find(requestId); it != byRequest_.end()) {
                made = &registrations_[it->second];
                if (made->studentId != s.id || made->courseId != courseId) {
                    fault = Fault{"soap:Client.RequestIdReused", "请求号已用于另一请求", "REQUEST_ID_REUSED"};
                    return "";
                }
                replayed = true;
                ++replays_;
            }
        }
        if (!made) {
            auto c = courses_.find(courseId);
            if (c == courses_.end()) {
                fault = Fault{"soap:Client.CourseNotFound", "课程不存在: " + courseId, "COURSE_NOT_FOUND"};
                return "";
            }
            int taken = 0;
            for (const Registration& r : registrations_) {
                if (r.courseId != courseId) continue;
                if (r.studentId == s.id) {
                    fault = Fault{"soap:Client.AlreadyRegistered", "已选该课程: " + courseId, "ALREADY_REGISTERED"};
                    return "";
                }
                ++taken;
            }
            if (taken >= c->second.capacity) {
                fault = Fault{"soap:Client.CourseFull", "课程已满: " + courseId, "COURSE_FULL"};
                return "";
            }
            char id[16];
            std::snprintf(id, sizeof id, "R-%06d", static_cast<int>(registrations_.size()));
            registrations_.push_back({id, s.id, courseId, nowIso()});
            ++written_;
            if (!requestId.empty()) byRequest_[requestId] = registrations_.size() - 1;
            made = &registrations_.back();
        }
        return "<a:RegisterCourseResponse xmlns:a=\"" + std::string(kServiceNs) + "\"><a:RegistrationId>" + made->id +
               "</a:RegistrationId><a:StudentId>" + xmlEscape(made->studentId) + "</a:StudentId><a:CourseId>" +
               xmlEscape(made->courseId) + "</a:CourseId><a:RegisteredAt>" + made->registeredAt +
               "</a:RegisteredAt><a:Replayed>" + (replayed ? "true" : "false") + "</a:Replayed></a:RegisterCourseResponse>";
    }

private:
    static std::string trimNumber(double v) {
        char buf[32];
        std::snprintf(buf, sizeof buf, "%.2f", v);
        std::string s = buf;
        while (s.back() == '0') s.pop_back();
        if (s.back() == '.') s.pop_back();
        return s;
    }

    const std::string username_, password_, passwordType_;
    std::map<std::string, Student> students_;
    std::map<std::string, Course> courses_;

    mutable std::mutex mutex_;
    std::condition_variable changed_;
    bool gbk_;
    Mode mode_ = Mode::None;
    int delayMs_ = 2000;
    bool stopping_ = false;
    long requests_ = 0, written_ = 0, replays_ = 0, authFailures_ = 0;
    std::vector<Registration> registrations_;
    std::map<std::string, std::size_t> byRequest_;
    std::set<std::string> nonces_;
};

/// A parsed request envelope and XPath over it, with the namespaces registered.
class Request {
public:
    explicit Request(const std::string& body) {
        // No network, no entity substitution; a DOCTYPE is refused below.
        doc_ = xmlReadMemory(body.data(), static_cast<int>(body.size()), "request.xml", nullptr,
                             XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
        if (!doc_) return;
        if (doc_->intSubset) {
            xmlFreeDoc(doc_);
            doc_ = nullptr;
            return;
        }
        xpath_ = xmlXPathNewContext(doc_);
        xmlXPathRegisterNs(xpath_, xmlText("soap"), xmlText(kSoapNs));
        xmlXPathRegisterNs(xpath_, xmlText("a"), xmlText(kServiceNs));
        xmlXPathRegisterNs(xpath_, xmlText("wsse"), xmlText(kWsseNs));
        xmlXPathRegisterNs(xpath_, xmlText("wsu"), xmlText(kWsuNs));
    }
    ~Request() {
        if (xpath_) xmlXPathFreeContext(xpath_);
        if (doc_) xmlFreeDoc(doc_);
    }
    Request(const Request&) = delete;
    Request& operator=(const Request&) = delete;

    bool ok() const { return doc_ != nullptr; }

    /// The string value of expression ("" when it selects nothing).
    std::string text(const std::string& expression) const {
        xmlXPathObjectPtr r = xmlXPathEvalExpression(xmlText("string(" + expression + ")"), xpath_);
        std::string out;
        if (r && r->type == XPATH_STRING && r->stringval) out = reinterpret_cast<const char*>(r->stringval);
        if (r) xmlXPathFreeObject(r);
        return out;
    }
    bool has(const std::string& expression) const {
        xmlXPathObjectPtr r = xmlXPathEvalExpression(xmlText("boolean(" + expression + ")"), xpath_);
        bool out = r && r->type == XPATH_BOOLEAN && r->boolval;
        if (r) xmlXPathFreeObject(r);
        return out;
    }
    std::string rootNamespace() const {
        xmlNodePtr root = xmlDocGetRootElement(doc_);
        return root && root->ns && root->ns->href ? reinterpret_cast<const char*>(root->ns->href) : "";
    }

private:
    xmlDocPtr doc_ = nullptr;
    xmlXPathContextPtr xpath_ = nullptr;
};

bool validId(const std::string& id) {
    if (id.empty() || id.size() > 20) return false;
    for (char c : id)
        if (!std::isalnum(static_cast<unsigned char>(c))) return false;
    return true;
}

std::string wsdl(const std::string& address) {
    const std::string ns = kServiceNs;
    auto op = [&](const std::string& name) {
        return "<wsdl:operation name=\"" + name + "\"><soap:operation soapAction=\"" + ns + "/" + name +
               "\" style=\"document\"/><wsdl:input><soap:body use=\"literal\"/></wsdl:input><wsdl:output><soap:body "
               "use=\"literal\"/></wsdl:output><wsdl:fault name=\"AcademicFault\"><soap:fault name=\"AcademicFault\" "
               "use=\"literal\"/></wsdl:fault></wsdl:operation>";
    };
    auto messages = [&](const std::string& name) {
        return "<wsdl:message name=\"" + name + "Request\"><wsdl:part name=\"parameters\" element=\"a:" + name +
               "\"/></wsdl:message><wsdl:message name=\"" + name + "Response\"><wsdl:part name=\"parameters\" element=\"a:" +
               name + "Response\"/></wsdl:message>";
    };
    auto portOp = [&](const std::string& name) {
        return "<wsdl:operation name=\"" + name + "\"><wsdl:input message=\"a:" + name +
               "Request\"/><wsdl:output message=\"a:" + name + "Response\"/><wsdl:fault name=\"AcademicFault\" "
               "message=\"a:AcademicFault\"/></wsdl:operation>";
    };
    const char* types = R"(<xs:schema targetNamespace="urn:jwxt:academic:v1" elementFormDefault="qualified">
  <xs:simpleType name="Id"><xs:restriction base="xs:string"><xs:pattern value="[0-9A-Za-z]{1,20}"/></xs:restriction></xs:simpleType>
  <xs:element name="GetTranscript"><xs:complexType><xs:sequence><xs:element name="StudentId" type="a:Id"/></xs:sequence></xs:complexType></xs:element>
  <xs:element name="GetTranscriptResponse"><xs:complexType><xs:sequence>
    <xs:element name="Student"><xs:complexType><xs:sequence><xs:element name="StudentId" type="a:Id"/><xs:element name="Name" type="xs:string"/><xs:element name="Major" type="xs:string"/></xs:sequence></xs:complexType></xs:element>
    <xs:element name="Records"><xs:complexType><xs:sequence><xs:element name="Record" minOccurs="0" maxOccurs="unbounded"><xs:complexType><xs:sequence>
      <xs:element name="CourseId" type="a:Id"/><xs:element name="CourseName" type="xs:string"/><xs:element name="Term" type="xs:string"/><xs:element name="Credit" type="xs:decimal"/><xs:element name="Score" type="xs:string"/>
    </xs:sequence></xs:complexType></xs:element></xs:sequence></xs:complexType></xs:element>
    <xs:element name="Gpa" type="xs:decimal"/></xs:sequence></xs:complexType></xs:element>
  <xs:element name="GetCourseRecords"><xs:complexType><xs:sequence><xs:element name="StudentId" type="a:Id"/><xs:element name="Term" type="xs:string" minOccurs="0"/></xs:sequence></xs:complexType></xs:element>
  <xs:element name="GetCourseRecordsResponse"><xs:complexType><xs:sequence><xs:element name="StudentId" type="a:Id"/>
    <xs:element name="Courses"><xs:complexType><xs:sequence><xs:element name="Course" minOccurs="0" maxOccurs="unbounded"><xs:complexType><xs:sequence>
      <xs:element name="CourseId" type="a:Id"/><xs:element name="CourseName" type="xs:string"/><xs:element name="Teacher" type="xs:string"/><xs:element name="Term" type="xs:string"/><xs:element name="Credit" type="xs:decimal"/><xs:element name="Status" type="xs:string"/>
    </xs:sequence></xs:complexType></xs:element></xs:sequence></xs:complexType></xs:element></xs:sequence></xs:complexType></xs:element>
  <xs:element name="RegisterCourse"><xs:complexType><xs:sequence><xs:element name="StudentId" type="a:Id"/><xs:element name="CourseId" type="a:Id"/>
    <xs:element name="RequestId" type="xs:string" minOccurs="0"><xs:annotation><xs:documentation>Idempotency: a RequestId seen before answers the first registration again (Replayed=true).</xs:documentation></xs:annotation></xs:element></xs:sequence></xs:complexType></xs:element>
  <xs:element name="RegisterCourseResponse"><xs:complexType><xs:sequence><xs:element name="RegistrationId" type="xs:string"/><xs:element name="StudentId" type="a:Id"/><xs:element name="CourseId" type="a:Id"/><xs:element name="RegisteredAt" type="xs:dateTime"/><xs:element name="Replayed" type="xs:boolean"/></xs:sequence></xs:complexType></xs:element>
  <xs:element name="FaultDetail"><xs:complexType><xs:sequence><xs:element name="Code" type="xs:string"/></xs:sequence></xs:complexType></xs:element>
</xs:schema>)";
    return std::string("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n") +
           "<wsdl:definitions xmlns:wsdl=\"http://schemas.xmlsoap.org/wsdl/\" "
           "xmlns:soap=\"http://schemas.xmlsoap.org/wsdl/soap/\" xmlns:xs=\"http://www.w3.org/2001/XMLSchema\" "
           "xmlns:a=\"" + ns + "\" targetNamespace=\"" + ns + "\" name=\"AcademicService\">\n<wsdl:types>" + types +
           "</wsdl:types>\n" + messages("GetTranscript") + messages("GetCourseRecords") + messages("RegisterCourse") +
           "<wsdl:message name=\"AcademicFault\"><wsdl:part name=\"fault\" element=\"a:FaultDetail\"/></wsdl:message>\n"
           "<wsdl:portType name=\"AcademicPortType\">" + portOp("GetTranscript") + portOp("GetCourseRecords") +
           portOp("RegisterCourse") + "</wsdl:portType>\n"
           "<wsdl:binding name=\"AcademicBinding\" type=\"a:AcademicPortType\"><soap:binding "
           "transport=\"http://schemas.xmlsoap.org/soap/http\" style=\"document\"/>" + op("GetTranscript") +
           op("GetCourseRecords") + op("RegisterCourse") + "</wsdl:binding>\n"
           "<wsdl:service name=\"AcademicService\"><wsdl:documentation>教务系统 (simulated). Every call needs a "
           "WS-Security UsernameToken.</wsdl:documentation><wsdl:port name=\"AcademicPort\" binding=\"a:AcademicBinding\">"
           "<soap:address location=\"" + xmlEscape(address) + "\"/></wsdl:port></wsdl:service>\n</wsdl:definitions>\n";
}

class Handler : public Poco::Net::HTTPRequestHandler {
public:
    explicit Handler(Simulator& sim) : sim_(sim) {}

    void handleRequest(Poco::Net::HTTPServerRequest& request, Poco::Net::HTTPServerResponse& response) override {
        try {
            route(request, response);
        } catch (const std::exception& e) {
            if (!response.sent()) send(response, 500, "text/plain", e.what());
        }
    }

private:
    void route(Poco::Net::HTTPServerRequest& request, Poco::Net::HTTPServerResponse& response) {
        const Poco::URI uri(request.getURI());
        const std::string& path = uri.getPath();
        if (path == "/health") return send(response, 200, "application/json", R"({"status":"ok"})");
        if (path == "/admin/stats") return send(response, 200, "application/json", sim_.stats());
        if (path == "/admin/mode") return setMode(request, response);
        if (path != kPath) return send(response, 404, "text/plain", "no such endpoint");
        if (request.getMethod() == "GET" && uri.getRawQuery() == "wsdl")
            return send(response, 200, "text/xml; charset=utf-8",
                        wsdl("http://" + request.getHost() + kPath));
        if (request.getMethod() != "POST") return send(response, 405, "text/plain", "use POST, or GET ?wsdl");

        sim_.countRequest();
        std::string body;
        if (!hub::sim::readBody(request, body, kMaxBody))
            return send(response, 413, "text/plain", "request larger than 256 KiB");

        int delayMs = 0;
        const Mode mode = sim_.mode(delayMs);
        if (mode == Mode::Slow) sim_.waitFor(delayMs, false);
        if (mode == Mode::Hang) {
            sim_.waitFor(600000, true);
            return send(response, 503, "text/plain", "hang ended");
        }
        if (mode == Mode::Html)
            return send(response, 503, "text/html", "<html><body><h1>503 Service Temporarily Unavailable</h1></body></html>");
        if (mode == Mode::Maintenance)
            return fault(response, {"soap:Server.Maintenance", "系统维护中，请稍后再试", "MAINTENANCE"});
        if (mode == Mode::ServerFault)
            return fault(response, {"soap:Server", "数据库错误 ORA-00060", "INTERNAL"});

        std::string answer;
        std::optional<Fault> f = dispatch(request, body, answer);
        if (f) return fault(response, *f);
        reply(response, 200, "<soap:Body>" + answer + "</soap:Body>", mode);
    }

    /// Runs the operation the request's Body names; a fault or the Body's content.
    std::optional<Fault> dispatch(Poco::Net::HTTPServerRequest& request, const std::string& body,
                                  std::string& answer) {
        if (request.getContentType().rfind("text/xml", 0) != 0)
            return Fault{"soap:Client", "SOAP 1.1 needs Content-Type text/xml", "BAD_CONTENT_TYPE"};
        Request r(body);
        if (!r.ok()) return Fault{"soap:Client", "请求不是格式正确的XML", "MALFORMED"};
        if (r.rootNamespace() != kSoapNs)
            return Fault{"soap:VersionMismatch", "only SOAP 1.1 is spoken here", "VERSION"};
        if (!r.has("/soap:Envelope/soap:Body")) return Fault{"soap:Client", "no Body", "MALFORMED"};

        if (auto refused = sim_.authenticate(
                r.text("/soap:Envelope/soap:Header/wsse:Security/wsse:UsernameToken/wsse:Username"),
                r.text("/soap:Envelope/soap:Header/wsse:Security/wsse:UsernameToken/wsse:Password"),
                r.text("/soap:Envelope/soap:Header/wsse:Security/wsse:UsernameToken/wsse:Password/@Type"),
                r.text("/soap:Envelope/soap:Header/wsse:Security/wsse:UsernameToken/wsse:Nonce"),
                r.text("/soap:Envelope/soap:Header/wsse:Security/wsse:UsernameToken/wsu:Created")))
            return refused;

        std::string operation;
        for (const char* name : {"GetTranscript", "GetCourseRecords", "RegisterCourse"})
            if (r.has(std::string("/soap:Envelope/soap:Body/a:") + name)) operation = name;
        if (operation.empty()) return Fault{"soap:Client", "未知操作", "UNKNOWN_OPERATION"};
        std::string action = request.get("SOAPAction", "");
        if (action.size() >= 2 && action.front() == '"' && action.back() == '"') action = action.substr(1, action.size() - 2);
        if (!action.empty() && action != std::string(kServiceNs) + "/" + operation)
            return Fault{"soap:Client", "SOAPAction does not match the Body: " + action, "ACTION_MISMATCH"};

        const std::string at = "/soap:Envelope/soap:Body/a:" + operation + "/a:";
        const std::string studentId = r.text(at + "StudentId");
        if (!validId(studentId)) return Fault{"soap:Client.InvalidArgument", "学号格式错误", "INVALID_STUDENT_ID"};
        const Student* s = sim_.student(studentId);
        if (!s) return Fault{"soap:Client.StudentNotFound", "学号不存在: " + studentId, "STUDENT_NOT_FOUND"};
        if (operation == "GetTranscript") {
            answer = sim_.transcript(*s);
        } else if (operation == "GetCourseRecords") {
            answer = sim_.courseRecords(*s, r.text(at + "Term"));
        } else {
            const std::string courseId = r.text(at + "CourseId");
            if (!validId(courseId)) return Fault{"soap:Client.InvalidArgument", "课程号格式错误", "INVALID_COURSE_ID"};
            std::optional<Fault> f;
            answer = sim_.registerCourse(*s, courseId, r.text(at + "RequestId"), f);
            if (f) return f;
        }
        return std::nullopt;
    }

    void fault(Poco::Net::HTTPServerResponse& response, const Fault& f) {
        reply(response, 500,
              "<soap:Body><soap:Fault><faultcode>" + f.code + "</faultcode><faultstring xml:lang=\"zh-CN\">" +
                  xmlEscape(f.reason) + "</faultstring><detail><a:FaultDetail xmlns:a=\"" + kServiceNs +
                  "\"><a:Code>" + f.detailCode + "</a:Code></a:FaultDetail></detail></soap:Fault></soap:Body>",
              Mode::None);
    }

    /// Wraps body in an envelope in the configured encoding; the malformed modes break it.
    void reply(Poco::Net::HTTPServerResponse& response, int status, const std::string& body, Mode mode) {
        const bool gbk = sim_.gbk() || mode == Mode::WrongEncoding;
        std::string envelope = std::string("<soap:Envelope xmlns:soap=\"") + kSoapNs + "\" xmlns:wsse=\"" + kWsseNs +
                               "\">" + body + "</soap:Envelope>";
        if (mode == Mode::BadXml) envelope = "<soap:Envelope xmlns:soap=\"" + std::string(kSoapNs) +
                                             "\"><soap:Body><a:Oops xmlns:a=\"urn:x\"></soap:Body></a:Oops>";
        std::string out;
        std::string type = "text/xml; charset=utf-8";
        if (mode == Mode::WrongEncoding) {
            out = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n" + toGbk(envelope);  // says UTF-8, is GBK
        } else if (gbk) {
            out = "<?xml version=\"1.0\" encoding=\"GBK\"?>\n" + toGbk(envelope);
            type = "text/xml; charset=GBK";
        } else {
            out = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n" + envelope;
        }
        if (mode == Mode::Truncated) out.resize(out.size() / 2);
        send(response, status, type, out);
    }

    void setMode(Poco::Net::HTTPServerRequest& request, Poco::Net::HTTPServerResponse& response) {
        std::string body;
        if (request.getMethod() != "POST" || !hub::sim::readBody(request, body, 4096))
            return send(response, 400, "text/plain", "POST a small JSON object");
        // A flat object of strings and numbers: read with the same XPath-free means as the rest.
        auto field = [&](const std::string& name) -> std::string {
            auto at = body.find("\"" + name + "\"");
            if (at == std::string::npos) return "";
            at = body.find(':', at);
            if (at == std::string::npos) return "";
            auto start = body.find_first_not_of(" \t\"", at + 1);
            auto end = body.find_first_of("\",} \t", start);
            return start == std::string::npos ? "" : body.substr(start, end - start);
        };
        const std::string encoding = field("encoding");
        if (!encoding.empty()) {
            if (encoding != "utf-8" && encoding != "gbk") return send(response, 400, "text/plain", "encoding: utf-8 or gbk");
            sim_.setGbk(encoding == "gbk");
        }
        const std::string mode = field("mode");
        if (!mode.empty()) {
            auto it = kModes.find(mode);
            if (it == kModes.end()) return send(response, 400, "text/plain", "unknown mode " + mode);
            int delay = 2000;
            if (std::string d = field("delay_ms"); !d.empty()) delay = std::stoi(d);
            sim_.setMode(it->second, delay);
        }
        send(response, 200, "application/json", "{\"mode\":" + hub::sim::jsonString(mode) + "}");
    }

    Simulator& sim_;
};

}  // namespace

int main(int argc, char** argv) {
    hub::sim::blockStopSignals();
    const std::string program = "hub-sim-academic-affairs";
    hub::sim::Options options;
    int exitCode = 0;
    if (!hub::sim::parseOptions(program,
                                "[--username U] [--password P] [--password-type digest|text|any] [--encoding utf-8|gbk]",
                                argc, argv, {"username", "password", "password-type", "encoding"}, options, exitCode))
        return exitCode;
    try {
        xmlInitParser();
        Simulator sim(options);
        return hub::sim::serve(program, options, [&sim] { return new Handler(sim); }, [&sim] { sim.stop(); });
    } catch (const std::exception& e) {
        std::cerr << program << ": " << e.what() << std::endl;
        return 2;
    }
}
