#include "hub/api/Router.h"

#include <Poco/URI.h>

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
    for (std::size_t i = 0; i < routes_.size(); ++i) {
        const Compiled& c = compiled_[i];
        if (c.segments.size() != count) continue;
        bool ok = true;
        for (std::size_t s = 0; s < count && ok; ++s)
            ok = c.segments[s] == "{}" || c.segments[s] == segments[s];
        if (!ok) continue;
        pathMatched = true;
        if (routes_[i].method != method) continue;
        route = &routes_[i];
        params.clear();
        std::size_t n = 0;
        for (std::size_t s = 0; s < count; ++s) {
            if (c.segments[s] != "{}") continue;
            std::string decoded;
            Poco::URI::decode(std::string(segments[s]), decoded);
            params.emplace_back(c.names[n++], std::move(decoded));
        }
        return Match::Found;
    }
    return pathMatched ? Match::NoMethod : Match::NoPath;
}

}  // namespace hub::api
