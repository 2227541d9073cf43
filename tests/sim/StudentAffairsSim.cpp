// hub-sim-student-affairs: a stand-in for a department's "student affairs" vendor system.
//
// Serves student records (Chinese names are normal data) and enrolment certificates over
// HTTP/JSON on loopback, for the tests, the demo and the proxy benchmark. It can pretend
// to be slow or broken (POST /admin/fail-mode) so circuit breakers and timeouts can be
// tested against a real socket.
//
//   hub-sim-student-affairs [--host 127.0.0.1] [--port 0] [--port-file F] [--data FILE]
//                           [--delay-ms N] [--threads 64]
//
// Endpoints:
//   GET  /health                     {"status":"ok"}
//   GET  /students/{id}              200 record | 404 {"error":...}
//   GET  /students?name=...          {"students":[...],"count":n}  (substring of name or name_en)
//   POST /certificates/enrolment     {"student_id":"..."} -> 201 {"certificate_no","student_id","name","issued_at"}
//   POST /admin/fail-mode            {"mode":"none|500|hang|hold|slow","delay_ms":2000}
//   GET  /admin/fail-mode            {"mode":...,"delay_ms":...,"hanging":n}  (n: requests held by "hang" or "hold" now)
// "hang" ends a held request with a 503 when the mode changes; "hold" lets it go on
// to its real answer, so a test decides when a slow vendor answers, not a clock.
// SIGTERM or SIGINT stops it cleanly (exit status 0).

#include <hub/common/Version.h>

#include <Poco/DateTimeFormat.h>
#include <Poco/DateTimeFormatter.h>
#include <Poco/Exception.h>
#include <Poco/File.h>
#include <Poco/FileStream.h>
#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <Poco/Net/HTTPRequestHandler.h>
#include <Poco/Net/HTTPRequestHandlerFactory.h>
#include <Poco/Net/HTTPServer.h>
#include <Poco/Net/HTTPServerParams.h>
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerResponse.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/Net/SocketAddress.h>
#include <Poco/NumberFormatter.h>
#include <Poco/NumberParser.h>
#include <Poco/StreamCopier.h>
#include <Poco/String.h>
#include <Poco/ThreadPool.h>
#include <Poco/URI.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <cstdio>
#include <iostream>
#include <map>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace {

using Poco::Net::HTTPResponse;
using Poco::Net::HTTPServerRequest;
using Poco::Net::HTTPServerResponse;

constexpr std::streamsize kMaxBodyBytes = 64 * 1024;

const char* const kBuiltInStudents = R"JSON([
 {"student_id":"2023010001","name":"张三","name_en":"Zhang San","department":"计算机学院","major":"软件工程","grade":2023,"status":"enrolled"},
 {"student_id":"2023010002","name":"李四","name_en":"Li Si","department":"计算机学院","major":"计算机科学与技术","grade":2023,"status":"enrolled"},
 {"student_id":"2022020015","name":"王小明","name_en":"Wang Xiaoming","department":"数学科学学院","major":"数学与应用数学","grade":2022,"status":"enrolled"},
 {"student_id":"2021030108","name":"欧阳娜娜","name_en":"Ouyang Nana","department":"外国语学院","major":"英语","grade":2021,"status":"enrolled"},
 {"student_id":"2024040021","name":"赵敏","name_en":"Zhao Min","department":"经济管理学院","major":"会计学","grade":2024,"status":"enrolled"},
 {"student_id":"2020050033","name":"陈静","name_en":"Chen Jing","department":"法学院","major":"法学","grade":2020,"status":"graduated"},
 {"student_id":"2022060077","name":"刘洋","name_en":"Liu Yang","department":"物理学院","major":"应用物理学","grade":2022,"status":"suspended"},
 {"student_id":"2023070009","name":"阿依古丽·买买提","name_en":"Ayigul Maimaiti","department":"医学院","major":"临床医学","grade":2023,"status":"enrolled"},
 {"student_id":"2024990001","name":"John Smith","name_en":"John Smith","department":"国际交流学院","major":"Chinese Language","grade":2024,"status":"visiting"},
 {"student_id":"2024990002","name":"Maria García","name_en":"Maria García","department":"国际交流学院","major":"Chinese Culture","grade":2024,"status":"visiting"},
 {"student_id":"2023990003","name":"Kim Min-jun","name_en":"Kim Min-jun","department":"国际交流学院","major":"International Trade","grade":2023,"status":"enrolled"}
])JSON";

struct Settings
{
    std::string host = "127.0.0.1";
    int port = 0;
    std::string portFile;
    std::string dataFile;
    int delayMs = 0;
    int threads = 64;
};

struct Student
{
    std::string id;
    std::string name;
    std::string nameEn;
    std::string status;
    Poco::JSON::Object::Ptr record;
    std::string json; // serialised once: the benchmark hits GET /students/{id} hardest
};

enum class FailMode
{
    None,
    Error500,
    Hang,
    Hold,
    Slow
};

const char* modeName(FailMode mode)
{
    switch (mode)
    {
    case FailMode::None: return "none";
    case FailMode::Error500: return "500";
    case FailMode::Hang: return "hang";
    case FailMode::Hold: return "hold";
    case FailMode::Slow: return "slow";
    }
    return "none";
}

class Simulator
{
public:
    Simulator(std::vector<Student> students, int delayMs) : _delayMs(delayMs)
    {
        for (Student& s : students)
        {
            const std::string id = s.id;
            _order.push_back(id);
            _students.emplace(id, std::move(s));
        }
    }

    const Student* find(const std::string& id) const
    {
        const auto it = _students.find(id);
        return it == _students.end() ? nullptr : &it->second;
    }

    std::vector<const Student*> search(const std::string& name) const
    {
        std::vector<const Student*> found;
        const std::string lowered = Poco::toLower(name);
        for (const std::string& id : _order)
        {
            const Student& s = _students.at(id);
            // Chinese has no case; toLower only touches ASCII, so UTF-8 bytes stay intact.
            if (name.empty() || s.name.find(name) != std::string::npos
                || Poco::toLower(s.nameEn).find(lowered) != std::string::npos)
                found.push_back(&s);
        }
        return found;
    }

    std::string nextCertificateNo()
    {
        const unsigned long n = ++_certificates;
        return "EC-" + Poco::DateTimeFormatter::format(Poco::Timestamp(), "%Y") + "-" + Poco::NumberFormatter::format0(n, 6);
    }

    int delayMs() const { return _delayMs; }

    void setFailMode(FailMode mode, int slowMs)
    {
        {
            std::lock_guard<std::mutex> lock(_mutex);
            _mode = mode;
            _slowMs = slowMs;
        }
        _changed.notify_all();
    }

    FailMode failMode(int& slowMs) const
    {
        std::lock_guard<std::mutex> lock(_mutex);
        slowMs = _slowMs;
        return _mode;
    }

    /// Blocks a "hung" or "held" request until the mode changes or the simulator stops.
    void hang(FailMode held)
    {
        std::unique_lock<std::mutex> lock(_mutex);
        ++_hanging;
        _changed.wait_for(lock, std::chrono::minutes(10), [this, held] { return _mode != held || _stopping; });
        --_hanging;
    }

    /// Requests blocked in hang() now (for tests: "the request has reached the hang").
    int hanging() const
    {
        std::lock_guard<std::mutex> lock(_mutex);
        return _hanging;
    }

    void sleepFor(int ms)
    {
        std::unique_lock<std::mutex> lock(_mutex);
        _changed.wait_for(lock, std::chrono::milliseconds(ms), [this] { return _stopping; });
    }

    void stop()
    {
        {
            std::lock_guard<std::mutex> lock(_mutex);
            _stopping = true;
        }
        _changed.notify_all();
    }

private:
    std::map<std::string, Student> _students;
    std::vector<std::string> _order;
    const int _delayMs;
    std::atomic<unsigned long> _certificates{0};

    mutable std::mutex _mutex;
    std::condition_variable _changed;
    FailMode _mode = FailMode::None;
    int _slowMs = 2000;
    int _hanging = 0;
    bool _stopping = false;
};

void send(HTTPServerResponse& response, HTTPResponse::HTTPStatus status, const std::string& json)
{
    response.setStatusAndReason(status);
    response.setContentType("application/json; charset=utf-8");
    response.setContentLength(static_cast<std::streamsize>(json.size()));
    response.sendBuffer(json.data(), json.size());
}

void sendError(HTTPServerResponse& response, HTTPResponse::HTTPStatus status, const std::string& message,
               const std::string& field = "", const std::string& value = "")
{
    Poco::JSON::Object body;
    body.set("error", message);
    if (!field.empty())
        body.set(field, value);
    std::ostringstream out;
    body.stringify(out);
    send(response, status, out.str());
}

std::string toJson(const Poco::JSON::Object& object)
{
    std::ostringstream out;
    object.stringify(out);
    return out.str();
}

// Answers 413 after reading (and dropping) up to 4 MiB of the body, so the client sees the
// answer instead of a connection reset for data it was still sending.
void refuseTooLarge(std::istream& in, HTTPServerResponse& response)
{
    char buffer[8192];
    std::streamsize drained = 0;
    while (drained < 4 * 1024 * 1024 && (in.read(buffer, sizeof buffer) || in.gcount() > 0))
        drained += in.gcount();
    response.setKeepAlive(false);
    sendError(response, HTTPResponse::HTTP_REQUESTENTITYTOOLARGE, "request body larger than 64 KiB");
}

// Reads a JSON object body; on failure answers the request and returns null.
Poco::JSON::Object::Ptr readJsonBody(HTTPServerRequest& request, HTTPServerResponse& response)
{
    std::istream& in = request.stream();
    if (request.hasContentLength() && request.getContentLength() > kMaxBodyBytes)
    {
        refuseTooLarge(in, response);
        return nullptr;
    }
    std::string body;
    char buffer[8192];
    while (in.read(buffer, sizeof buffer) || in.gcount() > 0)
    {
        body.append(buffer, static_cast<std::size_t>(in.gcount()));
        if (static_cast<std::streamsize>(body.size()) > kMaxBodyBytes)
        {
            refuseTooLarge(in, response);
            return nullptr;
        }
    }
    try
    {
        Poco::JSON::Parser parser;
        const Poco::Dynamic::Var parsed = parser.parse(body);
        if (parsed.type() == typeid(Poco::JSON::Object::Ptr))
            return parsed.extract<Poco::JSON::Object::Ptr>();
        sendError(response, HTTPResponse::HTTP_BAD_REQUEST, "request body must be a JSON object");
    }
    catch (const Poco::Exception& e)
    {
        sendError(response, HTTPResponse::HTTP_BAD_REQUEST, "request body is not valid JSON: " + e.message());
    }
    return nullptr;
}

class Handler : public Poco::Net::HTTPRequestHandler
{
public:
    explicit Handler(Simulator& sim) : _sim(sim) {}

    void handleRequest(HTTPServerRequest& request, HTTPServerResponse& response) override
    {
        try
        {
            route(request, response);
        }
        catch (const Poco::Exception& e)
        {
            if (!response.sent())
                sendError(response, HTTPResponse::HTTP_INTERNAL_SERVER_ERROR, e.displayText());
        }
    }

private:
    void route(HTTPServerRequest& request, HTTPServerResponse& response)
    {
        const Poco::URI uri(request.getURI());
        const std::string& path = uri.getPath();
        const std::string& method = request.getMethod();

        if (path == "/admin/fail-mode")
            return failMode(request, response);

        if (_sim.delayMs() > 0)
            _sim.sleepFor(_sim.delayMs());
        int slowMs = 0;
        switch (_sim.failMode(slowMs))
        {
        case FailMode::None: break;
        case FailMode::Error500:
            return sendError(response, HTTPResponse::HTTP_INTERNAL_SERVER_ERROR, "simulated outage");
        case FailMode::Hang:
            _sim.hang(FailMode::Hang);
            return sendError(response, HTTPResponse::HTTP_SERVICE_UNAVAILABLE, "simulated hang ended");
        case FailMode::Hold: _sim.hang(FailMode::Hold); break;
        case FailMode::Slow: _sim.sleepFor(slowMs); break;
        }

        if (path == "/health")
        {
            if (method != "GET")
                return sendError(response, HTTPResponse::HTTP_METHOD_NOT_ALLOWED, "use GET");
            return send(response, HTTPResponse::HTTP_OK, R"({"status":"ok"})");
        }
        if (path == "/students")
        {
            if (method != "GET")
                return sendError(response, HTTPResponse::HTTP_METHOD_NOT_ALLOWED, "use GET");
            std::string name;
            for (const auto& [key, value] : uri.getQueryParameters())
                if (key == "name")
                    name = value;
            Poco::JSON::Array::Ptr list = new Poco::JSON::Array;
            for (const Student* s : _sim.search(name))
                list->add(s->record);
            Poco::JSON::Object body;
            body.set("students", list);
            body.set("count", static_cast<int>(list->size()));
            return send(response, HTTPResponse::HTTP_OK, toJson(body));
        }
        if (path.rfind("/students/", 0) == 0)
        {
            if (method != "GET")
                return sendError(response, HTTPResponse::HTTP_METHOD_NOT_ALLOWED, "use GET");
            const std::string id = path.substr(std::string("/students/").size());
            if (const Student* s = _sim.find(id))
                return send(response, HTTPResponse::HTTP_OK, s->json);
            return sendError(response, HTTPResponse::HTTP_NOT_FOUND, "student not found", "student_id", id);
        }
        if (path == "/certificates/enrolment")
        {
            if (method != "POST")
                return sendError(response, HTTPResponse::HTTP_METHOD_NOT_ALLOWED, "use POST");
            return enrolmentCertificate(request, response);
        }
        sendError(response, HTTPResponse::HTTP_NOT_FOUND, "no such endpoint", "path", path);
    }

    void enrolmentCertificate(HTTPServerRequest& request, HTTPServerResponse& response)
    {
        const Poco::JSON::Object::Ptr body = readJsonBody(request, response);
        if (!body)
            return;
        const Poco::Dynamic::Var id = body->get("student_id");
        if (id.isEmpty() || !id.isString())
            return sendError(response, HTTPResponse::HTTP_BAD_REQUEST, "student_id (string) is required");
        const Student* s = _sim.find(id.extract<std::string>());
        if (!s)
            return sendError(response, HTTPResponse::HTTP_NOT_FOUND, "student not found", "student_id",
                             id.extract<std::string>());
        if (s->status != "enrolled")
            return sendError(response, HTTPResponse::HTTP_UNPROCESSABLE_ENTITY, "student is not enrolled", "status",
                             s->status);
        Poco::JSON::Object certificate;
        certificate.set("certificate_no", _sim.nextCertificateNo());
        certificate.set("student_id", s->id);
        certificate.set("name", s->name);
        certificate.set("name_en", s->nameEn);
        certificate.set("department", s->record->getValue<std::string>("department"));
        certificate.set("issued_at", Poco::DateTimeFormatter::format(Poco::Timestamp(), Poco::DateTimeFormat::ISO8601_FORMAT));
        send(response, HTTPResponse::HTTP_CREATED, toJson(certificate));
    }

    void failMode(HTTPServerRequest& request, HTTPServerResponse& response)
    {
        int slowMs = 0;
        if (request.getMethod() == "GET")
        {
            const FailMode mode = _sim.failMode(slowMs);
            return send(response, HTTPResponse::HTTP_OK,
                        std::string(R"({"mode":")") + modeName(mode) + R"(","delay_ms":)" + std::to_string(slowMs) +
                            R"(,"hanging":)" + std::to_string(_sim.hanging()) + "}");
        }
        if (request.getMethod() != "POST")
            return sendError(response, HTTPResponse::HTTP_METHOD_NOT_ALLOWED, "use GET or POST");
        const Poco::JSON::Object::Ptr body = readJsonBody(request, response);
        if (!body)
            return;
        const std::string mode = body->optValue<std::string>("mode", "");
        slowMs = body->optValue<int>("delay_ms", 2000);
        if (slowMs < 0 || slowMs > 600000)
            return sendError(response, HTTPResponse::HTTP_BAD_REQUEST, "delay_ms must be 0..600000");
        FailMode newMode;
        if (mode == "none")
            newMode = FailMode::None;
        else if (mode == "500")
            newMode = FailMode::Error500;
        else if (mode == "hang")
            newMode = FailMode::Hang;
        else if (mode == "hold")
            newMode = FailMode::Hold;
        else if (mode == "slow")
            newMode = FailMode::Slow;
        else
            return sendError(response, HTTPResponse::HTTP_BAD_REQUEST, "mode must be none, 500, hang, hold or slow");
        _sim.setFailMode(newMode, slowMs);
        send(response, HTTPResponse::HTTP_OK,
             std::string(R"({"mode":")") + modeName(newMode) + R"(","delay_ms":)" + std::to_string(slowMs) + "}");
    }

    Simulator& _sim;
};

class HandlerFactory : public Poco::Net::HTTPRequestHandlerFactory
{
public:
    explicit HandlerFactory(Simulator& sim) : _sim(sim) {}
    Poco::Net::HTTPRequestHandler* createRequestHandler(const HTTPServerRequest&) override { return new Handler(_sim); }

private:
    Simulator& _sim;
};

std::vector<Student> loadStudents(const std::string& json, const std::string& source)
{
    Poco::JSON::Parser parser;
    Poco::Dynamic::Var parsed;
    try
    {
        parsed = parser.parse(json);
    }
    catch (const Poco::Exception& e)
    {
        throw Poco::DataFormatException(source + ": not valid JSON: " + e.message());
    }
    Poco::JSON::Array::Ptr array;
    if (parsed.type() == typeid(Poco::JSON::Array::Ptr))
        array = parsed.extract<Poco::JSON::Array::Ptr>();
    else if (parsed.type() == typeid(Poco::JSON::Object::Ptr))
        array = parsed.extract<Poco::JSON::Object::Ptr>()->getArray("students");
    if (!array)
        throw Poco::DataFormatException(source + ": expected an array of students or {\"students\": [...]}");
    std::vector<Student> students;
    for (unsigned i = 0; i < array->size(); ++i)
    {
        Poco::JSON::Object::Ptr record = array->getObject(i);
        const std::string where = source + ": students[" + std::to_string(i) + "]";
        if (!record)
            throw Poco::DataFormatException(where + ": not an object");
        for (const char* field : {"student_id", "name"})
            if (!record->has(field) || !record->get(field).isString() || record->getValue<std::string>(field).empty())
                throw Poco::DataFormatException(where + ": '" + field + "' must be a non-empty string");
        Student s;
        s.id = record->getValue<std::string>("student_id");
        s.name = record->getValue<std::string>("name");
        s.nameEn = record->optValue<std::string>("name_en", s.name);
        s.status = record->optValue<std::string>("status", "enrolled");
        if (!record->has("department"))
            record->set("department", "");
        s.record = record;
        s.json = toJson(*record);
        students.push_back(std::move(s));
    }
    return students;
}

// A usage mistake: on stderr, exit 2. Asked for with --help (no error): on stdout.
int usage(const char* error)
{
    if (error)
        std::cerr << "hub-sim-student-affairs: " << error << "\n";
    (error ? std::cerr : std::cout)
        << "usage: hub-sim-student-affairs [--host 127.0.0.1] [--port 0] [--port-file F] [--data FILE]\n"
           "                               [--delay-ms N] [--threads 64]\n"
           "       hub-sim-student-affairs --help | --version\n";
    return 2;
}

bool parseInt(const std::string& text, int min, int max, int& out)
{
    return Poco::NumberParser::tryParse(text, out) && out >= min && out <= max;
}

} // namespace

int main(int argc, char** argv)
{
    // Block the stop signals before any thread starts, so every thread inherits the mask
    // and sigwait() below is the only place they are delivered.
    sigset_t stopSignals;
    sigemptyset(&stopSignals);
    sigaddset(&stopSignals, SIGTERM);
    sigaddset(&stopSignals, SIGINT);
    pthread_sigmask(SIG_BLOCK, &stopSignals, nullptr);
    std::signal(SIGPIPE, SIG_IGN);

    Settings settings;
    for (int i = 1; i < argc; ++i)
    {
        std::string arg = argv[i];
        std::string value;
        const std::size_t eq = arg.find('=');
        if (arg == "--help" || arg == "-h")
        {
            usage(nullptr);
            return 0;
        }
        if (arg == "--version")
        {
            std::cout << "hub-sim-student-affairs (CampusHub) " << hub::projectVersion << "\n";
            return 0;
        }
        if (eq != std::string::npos)
        {
            value = arg.substr(eq + 1);
            arg = arg.substr(0, eq);
        }
        else if (i + 1 < argc)
        {
            value = argv[++i];
        }
        else
        {
            return usage(("missing value for " + arg).c_str());
        }
        if (arg == "--host")
            settings.host = value;
        else if (arg == "--port")
        {
            if (!parseInt(value, 0, 65535, settings.port))
                return usage("--port must be 0..65535");
        }
        else if (arg == "--port-file")
            settings.portFile = value;
        else if (arg == "--data")
            settings.dataFile = value;
        else if (arg == "--delay-ms")
        {
            if (!parseInt(value, 0, 600000, settings.delayMs))
                return usage("--delay-ms must be 0..600000");
        }
        else if (arg == "--threads")
        {
            if (!parseInt(value, 1, 1024, settings.threads))
                return usage("--threads must be 1..1024");
        }
        else
            return usage(("unknown option " + arg).c_str());
    }

    try
    {
        std::vector<Student> students;
        if (settings.dataFile.empty())
        {
            students = loadStudents(kBuiltInStudents, "built-in data");
        }
        else
        {
            Poco::FileInputStream in(settings.dataFile);
            std::string json;
            Poco::StreamCopier::copyToString(in, json);
            students = loadStudents(json, settings.dataFile);
        }
        Simulator sim(std::move(students), settings.delayMs);

        Poco::Net::ServerSocket socket;
        socket.bind(Poco::Net::SocketAddress(settings.host, static_cast<Poco::UInt16>(settings.port)), true);
        socket.listen(1024);
        const int port = socket.address().port();

        // One pool thread per keep-alive connection (Poco's model): size the pool for the
        // benchmark's 64 connections, and queue, rather than refuse, a burst beyond that.
        Poco::ThreadPool pool(2, settings.threads, 60);
        Poco::Net::HTTPServerParams::Ptr params = new Poco::Net::HTTPServerParams;
        params->setMaxThreads(settings.threads);
        params->setMaxQueued(1000);
        params->setKeepAlive(true);
        params->setMaxKeepAliveRequests(0);
        params->setKeepAliveTimeout(Poco::Timespan(30, 0));
        params->setServerName("hub-sim-student-affairs");
        Poco::Net::HTTPServer server(new HandlerFactory(sim), pool, socket, params);
        server.start();

        if (!settings.portFile.empty())
        {
            // Write-then-rename, so a waiting test never reads half a number.
            const std::string temp = settings.portFile + ".tmp";
            {
                Poco::FileOutputStream out(temp, std::ios::trunc);
                out << port << "\n";
            }
            Poco::File(temp).renameTo(settings.portFile);
        }
        std::cout << "hub-sim-student-affairs ready on " << settings.host << ":" << port << std::endl;

        int signal = 0;
        sigwait(&stopSignals, &signal);
        std::cout << "hub-sim-student-affairs stopping on signal " << signal << std::endl;
        sim.stop(); // releases hung and sleeping requests
        server.stopAll(true);
        pool.joinAll();
        return 0;
    }
    catch (const Poco::Exception& e)
    {
        std::cerr << "hub-sim-student-affairs: " << e.displayText() << std::endl;
        return 1;
    }
}
