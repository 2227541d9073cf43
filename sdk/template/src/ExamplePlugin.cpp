// An example CampusHub plugin: one class, one export macro, two operations and a
// health probe. Copy the folder, rename "example", and replace the operations
// with calls into your system.
//
// The rules that matter (docs/sdk/abi-reference.md has them all):
//  - Register operations in the constructor, nowhere else.
//  - An operation takes JSON text and returns JSON text; throw a campushub::Error
//    subclass (InvalidArgument, NotFound, Unavailable, ...) to answer an error.
//  - Reach your system through host().http(...): the hub applies the call's
//    deadline, connection pooling and TLS for you.
//  - Operations may run on several threads at once: keep members read-only
//    after the constructor, or lock.
#include <campushub/json.hpp>
#include <campushub/plugin.hpp>

#include <cctype>
#include <string>

namespace {

class ExamplePlugin : public campushub::Plugin {
public:
    ExamplePlugin(campushub::Host& host, std::string_view /*configJson*/) : Plugin(host) {
        // Config values come from the plugin's section of hub.xml. A missing
        // required key refuses the load with this message.
        auto url = host.config("base_url");
        if (!url || url->empty()) throw campushub::InvalidArgument("config base_url is required");
        baseUrl_ = *url;
        while (!baseUrl_.empty() && baseUrl_.back() == '/') baseUrl_.pop_back();
        greeting_ = host.config("greeting").value_or("Hello");

        operation("greet", "Greets a person by name",
                  [this](campushub::Call& call, std::string_view input) { return greet(call, input); });
        operation("lookup_book", "Looks a book up by ISBN in the library system",
                  [this](campushub::Call& call, std::string_view input) { return lookupBook(call, input); });
        host.info("example plugin ready for " + baseUrl_);
    }

    // Called periodically by the hub: keep it cheap.
    std::string health() override {
        try {
            auto r = host().http(nullptr, "GET", baseUrl_ + "/health", {}, {}, std::chrono::milliseconds(1000));
            if (r.status == 200) return R"({"status":"up"})";
            return R"({"status":"degraded","detail":"health answered HTTP )" + std::to_string(r.status) + "\"}";
        } catch (const campushub::Error& e) {
            return R"({"status":"down","detail":)" + campushub::jsonString(e.what()) + "}";
        }
    }

private:
    // {"name": "张三"} -> {"greeting": "Hello, 张三!", "caller": {...}}
    std::string greet(campushub::Call& call, std::string_view input) {
        auto request = campushub::json::parseObject(input);  // InvalidArgument unless a JSON object
        std::string name = campushub::json::requireString(request, "name", 256);
        return "{\"greeting\":" + campushub::jsonString(greeting_ + ", " + name + "!") +
               ",\"caller\":" + call.callerJson() + "}";
    }

    // {"isbn": "9787536692930"} -> the library system's JSON for that book.
    std::string lookupBook(campushub::Call& call, std::string_view input) {
        auto request = campushub::json::parseObject(input);
        std::string isbn = campushub::json::requireString(request, "isbn", 17);
        for (char c : isbn)
            if (!std::isdigit(static_cast<unsigned char>(c)) && c != '-' && c != 'X')
                throw campushub::InvalidArgument("isbn may hold only digits, '-' and 'X'");
        // Digits, '-' and 'X' only: safe in a URL path as they are.
        campushub::HttpResponse r = host().http(&call, "GET", baseUrl_ + "/books/" + isbn);
        // Map the vendor system's answers onto the hub's statuses.
        if (r.status == 200) return r.body;
        if (r.status == 404) throw campushub::NotFound("no book with ISBN " + isbn);
        throw campushub::Unavailable("library system answered HTTP " + std::to_string(r.status));
    }

    std::string baseUrl_;
    std::string greeting_;
};

}  // namespace

// The one export: the plugin's class, name and version (as in plugin.xml).
CAMPUSHUB_PLUGIN(ExamplePlugin, "example", "1.0.0")
