#include "Cli.h"

#include <Poco/AutoPtr.h>
#include <Poco/Exception.h>
#include <Poco/JSON/Parser.h>
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Net/NetException.h>
#include <Poco/StreamCopier.h>
#include <Poco/URI.h>
#include <Poco/Util/XMLConfiguration.h>

#include <unistd.h>

#include <algorithm>
#include <condition_variable>
#include <fstream>
#include <iostream>
#include <mutex>
#include <sstream>
#include <thread>

namespace hubctl {

namespace {

std::string trim(std::string s) {
    auto notSpace = [](unsigned char c) { return !std::isspace(c); };
    s.erase(s.begin(), std::find_if(s.begin(), s.end(), notSpace));
    s.erase(std::find_if(s.rbegin(), s.rend(), notSpace).base(), s.end());
    return s;
}

std::string readToken(const GlobalOptions& options) {
    std::string file = options.tokenFile;
    if (file.empty()) {
        if (const char* fromEnv = std::getenv("HUBCTL_TOKEN"); fromEnv && *fromEnv) return trim(fromEnv);
        throw Failure(exitUnreachable, "no token: give --token-file FILE, HUBCTL_TOKEN_FILE or HUBCTL_TOKEN "
                                       "(`hubctl token` mints one)");
    }
    std::ifstream in(file);
    if (!in) throw Failure(exitUnreachable, "cannot read the token file " + file);
    std::stringstream all;
    all << in.rdbuf();
    std::string token = trim(all.str());
    if (token.empty()) throw Failure(exitUnreachable, "the token file " + file + " is empty");
    return token;
}

// The problem's detail (RFC 7807), else the body's first line.
std::string problemText(const Answer& answer) {
    try {
        Poco::JSON::Parser parser;
        auto object = parser.parse(answer.body).extract<Poco::JSON::Object::Ptr>();
        std::string title = object->optValue<std::string>("title", "");
        std::string detail = object->optValue<std::string>("detail", "");
        std::string out = title.empty() ? detail : (detail.empty() ? title : title + ": " + detail);
        if (object->has("errors") && object->isArray("errors")) {
            auto errors = object->getArray("errors");
            for (std::size_t i = 0; i < errors->size(); ++i) out += "\n  " + errors->getElement<std::string>(i);
        }
        if (!out.empty()) return out;
    } catch (const Poco::Exception&) {
    }
    return answer.body.substr(0, answer.body.find('\n'));
}

// Terminal columns of a UTF-8 string: East Asian wide characters take two.
std::size_t displayWidth(const std::string& s) {
    std::size_t width = 0;
    for (std::size_t i = 0; i < s.size();) {
        auto c = static_cast<unsigned char>(s[i]);
        std::uint32_t cp = c;
        std::size_t n = 1;
        if (c >= 0xF0 && i + 3 < s.size()) {
            cp = ((c & 0x07u) << 18) | ((s[i + 1] & 0x3Fu) << 12) | ((s[i + 2] & 0x3Fu) << 6) | (s[i + 3] & 0x3Fu);
            n = 4;
        } else if (c >= 0xE0 && i + 2 < s.size()) {
            cp = ((c & 0x0Fu) << 12) | ((s[i + 1] & 0x3Fu) << 6) | (s[i + 2] & 0x3Fu);
            n = 3;
        } else if (c >= 0xC0 && i + 1 < s.size()) {
            cp = ((c & 0x1Fu) << 6) | (s[i + 1] & 0x3Fu);
            n = 2;
        }
        bool wide = (cp >= 0x1100 && cp <= 0x115F) || (cp >= 0x2E80 && cp <= 0xA4CF) ||
                    (cp >= 0xAC00 && cp <= 0xD7A3) || (cp >= 0xF900 && cp <= 0xFAFF) ||
                    (cp >= 0xFE30 && cp <= 0xFE4F) || (cp >= 0xFF00 && cp <= 0xFF60) ||
                    (cp >= 0xFFE0 && cp <= 0xFFE6) || (cp >= 0x20000 && cp <= 0x3FFFD);
        width += wide ? 2 : 1;
        i += n;
    }
    return width;
}

// The hub's own address from its config (http.address, http.port), so hubctl
// on the hub's machine needs no --url. A wildcard address means loopback.
std::string urlFromConfig(const std::string& configFile) {
    std::string address = "127.0.0.1";
    int port = 8080;
    if (!configFile.empty()) {
        try {
            Poco::AutoPtr<Poco::Util::XMLConfiguration> config(new Poco::Util::XMLConfiguration(configFile));
            address = config->getString("http.address", address);
            port = config->getInt("http.port", port);
        } catch (const Poco::Exception& e) {
            throw Failure(exitUsage, "cannot read " + configFile + " (for the hub's address): " + e.displayText());
        }
    }
    if (address.empty() || address == "0.0.0.0") address = "127.0.0.1";
    if (address == "::") address = "::1";
    if (address.find(':') != std::string::npos) address = "[" + address + "]";
    return "http://" + address + ":" + std::to_string(port);
}

std::vector<std::pair<int, Registration::Define>>& registry() {
    static std::vector<std::pair<int, Registration::Define>> groups;
    return groups;
}

}  // namespace

Poco::JSON::Object::Ptr Answer::object() const {
    try {
        Poco::JSON::Parser parser;
        return parser.parse(body).extract<Poco::JSON::Object::Ptr>();
    } catch (const Poco::Exception& e) {
        throw Failure(exitFailure, "the hub's answer is not a JSON object: " + e.displayText());
    }
}

HubClient::HubClient(const GlobalOptions& options)
    : url_(options.url.empty() ? urlFromConfig(options.config) : options.url),
      token_(readToken(options)),
      timeoutOverride_(options.timeoutSeconds) {
    while (!url_.empty() && url_.back() == '/') url_.pop_back();
}

Answer HubClient::get(const std::string& pathAndQuery, int timeoutSeconds) const {
    return call(Poco::Net::HTTPRequest::HTTP_GET, pathAndQuery, "", timeoutSeconds);
}

Answer HubClient::post(const std::string& pathAndQuery, const std::string& body, int timeoutSeconds) const {
    return call(Poco::Net::HTTPRequest::HTTP_POST, pathAndQuery, body, timeoutSeconds);
}

Answer HubClient::put(const std::string& pathAndQuery, const std::string& body, int timeoutSeconds) const {
    return call(Poco::Net::HTTPRequest::HTTP_PUT, pathAndQuery, body, timeoutSeconds);
}

Answer HubClient::remove(const std::string& pathAndQuery, int timeoutSeconds) const {
    return call(Poco::Net::HTTPRequest::HTTP_DELETE, pathAndQuery, "", timeoutSeconds);
}

Answer HubClient::call(const std::string& method, const std::string& pathAndQuery, const std::string& body,
                       int timeoutSeconds) const {
    Answer answer;
    try {
        Poco::URI base(url_);
        if (base.getScheme() != "http")
            throw Failure(exitUsage, "--url must be http://HOST:PORT (got '" + url_ + "'); put TLS in front with a proxy");
        Poco::Net::HTTPClientSession session(base.getHost(), base.getPort());
        session.setTimeout(Poco::Timespan(timeoutOverride_ > 0 ? timeoutOverride_ : timeoutSeconds, 0));
        Poco::Net::HTTPRequest request(method, base.getPath() + pathAndQuery, Poco::Net::HTTPMessage::HTTP_1_1);
        request.set("Authorization", "Bearer " + token_);
        request.set("Accept", "application/json");
        request.set("User-Agent", "hubctl");
        if (!body.empty() || method == Poco::Net::HTTPRequest::HTTP_POST) {
            request.setContentType("application/json");
            request.setContentLength(static_cast<std::streamsize>(body.size()));
        }
        session.sendRequest(request) << body;
        Poco::Net::HTTPResponse response;
        std::istream& in = session.receiveResponse(response);
        Poco::StreamCopier::copyToString(in, answer.body);
        answer.status = static_cast<int>(response.getStatus());
    } catch (const Failure&) {
        throw;
    } catch (const Poco::Exception& e) {
        throw Failure(exitUnreachable, "cannot reach the hub at " + url_ + ": " + e.displayText());
    }
    if (answer.status == 401 || answer.status == 403)
        throw Failure(exitUnreachable, "the hub refused the token (" + std::to_string(answer.status) +
                                           "): " + problemText(answer));
    if (answer.status >= 400)
        throw Failure(exitFailure, "the hub answered " + std::to_string(answer.status) + ": " + problemText(answer));
    return answer;
}

std::string queryValue(const std::string& value) {
    std::string out;
    Poco::URI::encode(value, "!#$&'()*+,/:;=?@[]%", out);
    return out;
}

void Table::print(std::ostream& out) const {
    std::vector<std::size_t> widths(headers_.size(), 0);
    auto measure = [&widths](const std::vector<std::string>& row) {
        for (std::size_t i = 0; i < row.size() && i < widths.size(); ++i)
            widths[i] = std::max(widths[i], displayWidth(row[i]));
    };
    measure(headers_);
    for (const auto& row : rows_) measure(row);
    auto line = [&](const std::vector<std::string>& row) {
        std::string text;
        for (std::size_t i = 0; i < widths.size(); ++i) {
            const std::string cell = i < row.size() ? row[i] : "";
            text += cell;
            if (i + 1 < widths.size()) text.append(widths[i] - displayWidth(cell) + 2, ' ');
        }
        out << trim(text) << '\n';
    };
    line(headers_);
    for (const auto& row : rows_) line(row);
}

void printJson(const std::string& json) {
    std::cout << json;
    if (json.empty() || json.back() != '\n') std::cout << '\n';
}

std::string text(const Poco::JSON::Object::Ptr& object, const std::string& key) {
    if (!object || !object->has(key) || object->isNull(key)) return "";
    return object->get(key).convert<std::string>();
}

struct Progress::Ticker {
    std::mutex mutex;
    std::condition_variable wake;
    bool stop = false;
    std::thread thread;
};

Progress::Progress(const GlobalOptions& options, std::string label, long long total, std::string unit)
    : enabled_(!options.json && !options.quiet && ::isatty(STDOUT_FILENO) && ::isatty(STDERR_FILENO)),
      label_(std::move(label)),
      total_(total),
      unit_(std::move(unit)),
      started_(std::chrono::steady_clock::now()) {}

Progress::~Progress() {
    stopTicker();
    if (enabled_) std::cerr << "\r\033[K" << std::flush;
}

void Progress::update(long long done) {
    done_ = done;
    if (enabled_) draw();
}

void Progress::draw() {
    using namespace std::chrono;
    auto seconds = duration_cast<milliseconds>(steady_clock::now() - started_).count() / 1000.0;
    std::ostringstream line;
    const long long done = done_, total = total_;
    line << "\r\033[K" << label_ << ' ';
    if (total > 0) {
        constexpr int width = 30;
        auto filled = static_cast<int>(width * std::min(done, total) / total);
        line << '[' << std::string(static_cast<std::size_t>(filled), '#')
             << std::string(static_cast<std::size_t>(width - filled), '.') << "] " << done << '/' << total;
        if (!unit_.empty()) line << ' ' << unit_;
    } else {
        static const char spin[] = {'|', '/', '-', '\\'};
        line << spin[static_cast<int>(seconds * 4) % 4];
        if (done > 0 && !unit_.empty()) line << ' ' << done << ' ' << unit_;
    }
    line.precision(1);
    line << std::fixed << ' ' << seconds << 's';
    std::cerr << line.str() << std::flush;
}

void Progress::startTicker() {
    ticker_ = std::make_unique<Ticker>();
    ticker_->thread = std::thread([this] {
        std::unique_lock lock(ticker_->mutex);
        while (!ticker_->stop) {
            draw();
            ticker_->wake.wait_for(lock, std::chrono::milliseconds(250));
        }
    });
}

void Progress::stopTicker() {
    if (!ticker_) return;
    {
        std::lock_guard lock(ticker_->mutex);
        ticker_->stop = true;
    }
    ticker_->wake.notify_all();
    ticker_->thread.join();
    ticker_.reset();
}

CLI::App* Commands::leaf(CLI::App& parent, const std::string& name, const std::string& description, Action action) {
    CLI::App* sub = parent.add_subcommand(name, description);
    actions_[sub] = std::move(action);
    return sub;
}

CLI::App* Commands::group(CLI::App& parent, const std::string& name, const std::string& description) {
    CLI::App* sub = parent.add_subcommand(name, description);
    sub->require_subcommand(1);
    return sub;
}

Commands::Action Commands::selected() const {
    const CLI::App* node = &app_;
    Action found;
    for (;;) {
        auto given = node->get_subcommands();
        if (given.empty()) break;
        node = given.front();
        if (auto it = actions_.find(node); it != actions_.end()) found = it->second;
    }
    return found;
}

Registration::Registration(int order, Define define) {
    registry().emplace_back(order, define);
}

std::vector<Registration::Define> Registration::all() {
    auto groups = registry();
    std::stable_sort(groups.begin(), groups.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
    std::vector<Define> out;
    for (const auto& g : groups) out.push_back(g.second);
    return out;
}

}  // namespace hubctl
