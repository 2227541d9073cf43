// The web console's static files, held in memory and served under /console.
#include "hub/api/ConsoleRoutes.h"

#include <Poco/DigestEngine.h>
#include <Poco/Logger.h>
#include <Poco/MD5Engine.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <sstream>

namespace hub::api {

namespace {

namespace fs = std::filesystem;

struct StaticFile {
    std::string body;
    std::string gzipBody;  // empty: no pre-compressed copy
    std::string contentType;
    std::string etag;
    bool immutable = false;
};

using FileSet = std::map<std::string, StaticFile, std::less<>>;

constexpr std::size_t kMaxSegmentBytes = 255;

// The one rule for a name, applied both to what is loaded and to what is asked
// for: what a request can name is only what the scan took.
bool safeSegment(std::string_view s) {
    if (s.empty() || s.size() > kMaxSegmentBytes || s.front() == '.') return false;
    for (unsigned char c : s) {
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
                  c == '-' || c == '.' || c == '~';
        if (!ok) return false;
    }
    return true;
}

std::string_view contentTypeOf(std::string_view name) {
    static const std::pair<std::string_view, std::string_view> kTypes[] = {
        {".html", "text/html; charset=utf-8"},       {".js", "text/javascript; charset=utf-8"},
        {".mjs", "text/javascript; charset=utf-8"},  {".css", "text/css; charset=utf-8"},
        {".json", "application/json"},               {".map", "application/json"},
        {".svg", "image/svg+xml"},                   {".png", "image/png"},
        {".ico", "image/x-icon"},                    {".woff2", "font/woff2"},
        {".woff", "font/woff"},                      {".ttf", "font/ttf"},
        {".eot", "application/vnd.ms-fontobject"},   {".txt", "text/plain; charset=utf-8"},
        {".bpmn", "application/xml"}};
    for (const auto& [ext, type] : kTypes)
        if (name.size() > ext.size() && name.substr(name.size() - ext.size()) == ext) return type;
    return "application/octet-stream";
}

std::optional<std::string> readFile(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return std::nullopt;
    std::ostringstream out;
    out << in.rdbuf();
    return std::move(out).str();
}

std::string etagOf(const std::string& body) {
    Poco::MD5Engine md5;
    md5.update(body.data(), body.size());
    return "\"" + Poco::DigestEngine::digestToHex(md5.digest()) + "\"";
}

// Walks dir up to three levels, taking regular files with safe names only.
FileSet load(const ConsoleOptions& options) {
    FileSet files;
    auto& log = Poco::Logger::get("hub.console");
    std::error_code ec;
    if (!fs::is_directory(options.dir, ec)) return files;
    std::size_t total = 0;
    std::map<std::string, std::string> gzipped;  // "x.js" -> its .gz bytes
    auto it = fs::recursive_directory_iterator(options.dir, fs::directory_options::none, ec);
    for (; !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
        const auto& entry = *it;
        std::string name = entry.path().filename().string();
        if (entry.is_symlink(ec)) continue;  // never followed: nothing outside dir is served
        if (entry.is_directory(ec)) {
            // Deeper than /console/{a}/{b}/{c} is never asked for; hidden folders never.
            if (it.depth() >= 2 || !safeSegment(name)) it.disable_recursion_pending();
            continue;
        }
        if (!safeSegment(name) || !entry.is_regular_file(ec)) continue;
        // Lexically: fs::relative would resolve a link and name its target instead.
        std::string relative = entry.path().lexically_relative(options.dir).generic_string();
        auto size = entry.file_size(ec);
        if (ec || size > options.maxFileBytes || total + size > options.maxTotalBytes) {
            log.warning("console: left out %s (%Lu bytes; at most %z per file, %z in all)", relative,
                        static_cast<Poco::UInt64>(size), options.maxFileBytes, options.maxTotalBytes);
            ec.clear();
            continue;
        }
        auto body = readFile(entry.path());
        if (!body) continue;
        total += body->size();
        if (relative.size() > 3 && relative.compare(relative.size() - 3, 3, ".gz") == 0) {
            gzipped.emplace(relative.substr(0, relative.size() - 3), std::move(*body));
            continue;
        }
        StaticFile file;
        file.contentType = std::string(contentTypeOf(relative));
        file.etag = etagOf(*body);
        file.body = std::move(*body);
        // The bundler names what is under assets/ by a hash of its content.
        file.immutable = relative.rfind("assets/", 0) == 0;
        files.emplace(std::move(relative), std::move(file));
    }
    for (auto& [name, body] : gzipped)
        if (auto f = files.find(name); f != files.end()) f->second.gzipBody = std::move(body);
    return files;
}

bool acceptsGzip(std::string_view acceptEncoding) {
    // "gzip" listed, and not with q=0 (rare enough to read simply).
    auto at = acceptEncoding.find("gzip");
    if (at == std::string_view::npos) return false;
    auto rest = acceptEncoding.substr(at + 4);
    auto comma = rest.find(',');
    auto params = rest.substr(0, comma);
    return params.find("q=0") == std::string_view::npos || params.find("q=0.") != std::string_view::npos;
}

bool etagMatches(std::string_view ifNoneMatch, std::string_view etag) {
    if (ifNoneMatch.empty()) return false;
    if (ifNoneMatch == "*") return true;
    std::size_t pos = 0;
    while (pos < ifNoneMatch.size()) {
        auto comma = ifNoneMatch.find(',', pos);
        auto one = ifNoneMatch.substr(pos, comma == std::string_view::npos ? std::string_view::npos : comma - pos);
        while (!one.empty() && (one.front() == ' ' || one.front() == '\t')) one.remove_prefix(1);
        while (!one.empty() && (one.back() == ' ' || one.back() == '\t')) one.remove_suffix(1);
        if (one.rfind("W/", 0) == 0) one.remove_prefix(2);  // weak comparison, RFC 9110 13.1.2
        if (one == etag) return true;
        if (comma == std::string_view::npos) break;
        pos = comma + 1;
    }
    return false;
}

constexpr const char* kSecurityPolicy =
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'";

Response serve(const StaticFile& file, const Request& request) {
    Response r;
    r.contentType = file.contentType;
    r.headers.emplace_back("ETag", file.etag);
    r.headers.emplace_back("Cache-Control", file.immutable ? "public, max-age=31536000, immutable" : "no-cache");
    r.headers.emplace_back("X-Content-Type-Options", "nosniff");
    r.headers.emplace_back("Referrer-Policy", "no-referrer");
    r.headers.emplace_back("Content-Security-Policy", kSecurityPolicy);
    if (!file.gzipBody.empty()) r.headers.emplace_back("Vary", "Accept-Encoding");
    if (etagMatches(request.header("If-None-Match"), file.etag)) {
        r.status = 304;
        return r;
    }
    if (!file.gzipBody.empty() && acceptsGzip(request.header("Accept-Encoding"))) {
        r.headers.emplace_back("Content-Encoding", "gzip");
        r.body = file.gzipBody;
    } else {
        r.body = file.body;
    }
    return r;
}

}  // namespace

std::size_t addConsoleRoutes(Router& router, const ConsoleOptions& options) {
    auto files = std::make_shared<const FileSet>(load(options));
    auto& log = Poco::Logger::get("hub.console");
    const bool built = files->count("index.html") > 0;
    if (built)
        log.information("console: %z files from %s under /console", files->size(), options.dir);
    else
        log.warning("console: no index.html in '%s' (console.dir); /console answers 404", options.dir);

    std::string missing = "the web console is not installed: no index.html in console.dir ('" + options.dir +
                          "'); build it with the console target (needs npm) or set console.dir";
    auto handler = [files, built, missing](const RequestPtr& request, Responder out) {
        if (!built) {
            out.send(problem(404, missing, "Console not built", "urn:campushub:problem:console-not-built"));
            return;
        }
        std::string path;
        for (const auto& [name, value] : request->params) {
            if (!safeSegment(value)) {
                path.clear();
                break;
            }
            if (!path.empty()) path += '/';
            path += value;
        }
        if (request->params.empty()) path = "index.html";
        auto it = path.empty() ? files->end() : files->find(path);
        if (it == files->end()) {
            out.send(problem(404, "no such file in the console", "Not found", "urn:campushub:problem:not-found"));
            return;
        }
        out.send(serve(it->second, *request));
    };
    router.add(http::verb::get, "/console", handler, false);
    router.add(http::verb::get, "/console/{a}", handler, false);
    router.add(http::verb::get, "/console/{a}/{b}", handler, false);
    router.add(http::verb::get, "/console/{a}/{b}/{c}", handler, false);
    return files->size();
}

}  // namespace hub::api
