#include "hub/api/Router.h"

namespace hub::api {

namespace {

template <class F>
void forEachSegment(std::string_view path, F&& f) {
    std::size_t pos = 0;
    while (pos < path.size()) {
        if (path[pos] == '/') {
            ++pos;
            continue;
        }
        auto end = path.find('/', pos);
        if (end == std::string_view::npos) end = path.size();
        f(path.substr(pos, end - pos));
        pos = end;
    }
}

}  // namespace

void Router::add(http::verb method, std::string pattern, Handler handler, bool authenticated) {
    Compiled c;
    forEachSegment(pattern, [&](std::string_view seg) {
        if (seg.size() > 2 && seg.front() == '{' && seg.back() == '}') {
            c.segments.emplace_back("{}");
            c.names.emplace_back(seg.substr(1, seg.size() - 2));
        } else {
            c.segments.emplace_back(seg);
        }
    });
    routes_.push_back({method, std::move(pattern), std::move(handler), authenticated, {}});
    compiled_.push_back(std::move(c));
}

void Router::add(http::verb method, std::string pattern, Handler handler, RouteAccess access) {
    add(method, std::move(pattern), std::move(handler), true);
    routes_.back().access = std::move(access);
}

Router::Match Router::match(http::verb method, std::string_view path, const Route*& route,
                            std::vector<std::pair<std::string_view, std::string>>& params) const {
    // Split once; a few dozen routes make a linear scan cheaper than a trie.
    std::string_view segments[16];
    std::size_t count = 0;
    bool tooDeep = false;
    forEachSegment(path, [&](std::string_view seg) {
        if (count < 16)
            segments[count++] = seg;
        else
            tooDeep = true;
    });
    if (tooDeep) return Match::NoPath;

    bool pathMatched = false;
    std::size_t found = routes_.size();
    for (std::size_t i = 0; i < routes_.size(); ++i) {
        const Compiled& c = compiled_[i];
        if (c.segments.size() != count) continue;
        bool ok = true;
        for (std::size_t s = 0; s < count && ok; ++s)
            ok = c.segments[s] == "{}" || c.segments[s] == segments[s];
        if (!ok) continue;
        pathMatched = true;
        if (routes_[i].method == method) {
            found = i;
            break;
        }
        // HEAD is answered by the GET route, as nginx does; the server sends no body.
        if (method == http::verb::head && routes_[i].method == http::verb::get && found == routes_.size()) found = i;
    }
    if (found < routes_.size()) {
        const Compiled& c = compiled_[found];
        route = &routes_[found];
        params.clear();
        std::size_t n = 0;
        for (std::size_t s = 0; s < count; ++s) {
            if (c.segments[s] != "{}") continue;
            std::string decoded;
            percentDecode(segments[s], decoded);
            params.emplace_back(c.names[n++], std::move(decoded));
        }
        return Match::Found;
    }
    return pathMatched ? Match::NoMethod : Match::NoPath;
}

std::string Router::allowedMethods(std::string_view path) const {
    std::string allowed;
    auto add = [&allowed](std::string_view method) {
        if (allowed.find(method) != std::string::npos) return;
        if (!allowed.empty()) allowed += ", ";
        allowed += method;
    };
    std::vector<std::pair<std::string_view, std::string>> ignored;
    for (const auto& r : routes_) {
        const Route* found = nullptr;
        if (match(r.method, path, found, ignored) != Match::Found) continue;
        auto name = http::to_string(r.method);
        add({name.data(), name.size()});
        if (r.method == http::verb::get) add("HEAD");
    }
    return allowed;
}

}  // namespace hub::api
