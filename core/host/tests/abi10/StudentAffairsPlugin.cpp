// Reference adapter for the student affairs office's records system: the model
// for vendors. It talks to the system over HTTP/JSON through the hub's HTTP
// service, so connection pooling, deadlines and TLS are the hub's business.
#include <campushub/json.hpp>
#include <campushub/plugin.hpp>

#include <Poco/URI.h>

#include <cctype>

#include <string>

namespace {

class StudentAffairsPlugin : public campushub::Plugin {
public:
    StudentAffairsPlugin(campushub::Host& host, std::string_view /*config*/) : Plugin(host) {
        auto url = host.config("base_url");
        if (!url || url->empty()) throw campushub::InvalidArgument("config base_url is required");
        baseUrl_ = *url;
        while (!baseUrl_.empty() && baseUrl_.back() == '/') baseUrl_.pop_back();

        operation("get_student", "Looks a student up by student number",
                  [this](campushub::Call& call, std::string_view input) {
                      return getStudent(call, input);
                  });
        operation("enrolment_certificate", "Issues an enrolment certificate (在读证明)",
                  [this](campushub::Call& call, std::string_view input) {
                      return enrolmentCertificate(call, input);
                  });
    }

    std::string health() override {
        try {
            auto r = host().http(nullptr, "GET", baseUrl_ + "/health", {}, {},
                                 std::chrono::milliseconds(1000));
            if (r.status == 200) return R"({"status":"up"})";
            return R"({"status":"degraded","detail":"health answered )" + std::to_string(r.status) +
                   "\"}";
        } catch (const campushub::Error& e) {
            return R"({"status":"down","detail":)" + campushub::jsonString(e.what()) + "}";
        }
    }

private:
    static std::string studentId(std::string_view input) {
        auto request = campushub::json::parseObject(input);
        std::string id = campushub::json::requireString(request, "student_id", 32);
        for (char c : id)
            if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-')
                throw campushub::InvalidArgument("student_id may hold only letters, digits and '-'");
        return id;
    }

    // Maps the vendor system's answer onto the SDK's statuses.
    static std::string expectOk(const campushub::HttpResponse& r, const std::string& what) {
        if (r.status >= 200 && r.status < 300) return r.body;
        if (r.status == 404) throw campushub::NotFound(what + " not found");
        if (r.status == 400) throw campushub::InvalidArgument("rejected by student affairs: " + r.body);
        throw campushub::Unavailable("student affairs answered HTTP " + std::to_string(r.status));
    }

    std::string getStudent(campushub::Call& call, std::string_view input) {
        std::string id = studentId(input);
        std::string path;
        Poco::URI::encode(id, "/?#&=+", path);
        return expectOk(host().http(&call, "GET", baseUrl_ + "/students/" + path), "student " + id);
    }

    std::string enrolmentCertificate(campushub::Call& call, std::string_view input) {
        std::string id = studentId(input);
        std::string body = "{\"student_id\":" + campushub::jsonString(id) + "}";
        return expectOk(host().http(&call, "POST", baseUrl_ + "/certificates/enrolment", body,
                                    "Content-Type: application/json\r\n"),
                        "student " + id);
    }

    std::string baseUrl_;
};

}  // namespace

CAMPUSHUB_PLUGIN(StudentAffairsPlugin, "student_affairs", "1.0.0")
