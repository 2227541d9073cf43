#include "hub/catalog/Query.h"

#include <charconv>

namespace hub::catalog {

namespace {

std::size_t parseCount(const std::string& parameter, const std::string& value) {
    std::size_t out = 0;
    const char* end = value.data() + value.size();
    auto [ptr, ec] = std::from_chars(value.data(), end, out);
    if (value.empty() || ec != std::errc() || ptr != end) {
        throw QueryError(parameter, "parameter '" + parameter + "': '" + value.substr(0, 40) +
                                        "' is not a non-negative whole number");
    }
    return out;
}

}  // namespace

void Query::setPage(std::size_t page, std::size_t pageSize) {
    if (page < 1) {
        throw QueryError("page", "parameter 'page': pages are numbered from 1");
    }
    if (pageSize < 1) {
        throw QueryError("pageSize", "parameter 'pageSize': must be at least 1");
    }
    limit = pageSize > maxLimit ? maxLimit : pageSize;
    // Saturate instead of overflowing: a huge page is simply beyond the end.
    offset = (page - 1) > (static_cast<std::size_t>(-1) / limit) ? static_cast<std::size_t>(-1) : (page - 1) * limit;
}

Query Query::fromParameters(const std::vector<std::pair<std::string, std::string>>& parameters,
                            AudienceSet viewer) {
    Query q;
    q.viewer = viewer;
    std::optional<std::size_t> page, pageSize, offset, limit;
    for (const auto& [key, value] : parameters) {
        if (key == "category") {
            q.category = value;
        } else if (key == "department") {
            q.department = value;
        } else if (key == "channel") {
            q.channel = parseChannel(value);
            if (!q.channel) {
                throw QueryError(key, "parameter 'channel': '" + value.substr(0, 40) +
                                          "' is not one of online, counter, kiosk");
            }
        } else if (key == "audience") {
            q.audience = AudienceSet::parse(value);
            if (!q.audience) {
                throw QueryError(key, "parameter 'audience': '" + value.substr(0, 40) +
                                          "' is not a list of student, teacher, staff, visitor");
            }
        } else if (key == "q" || key == "search") {
            if (value.size() > 256) {
                throw QueryError(key, "parameter '" + key + "': search text is limited to 256 bytes");
            }
            q.text = value;
        } else if (key == "page") {
            page = parseCount(key, value);
        } else if (key == "pageSize") {
            pageSize = parseCount(key, value);
        } else if (key == "offset") {
            offset = parseCount(key, value);
        } else if (key == "limit") {
            limit = parseCount(key, value);
        }
    }
    if ((page || pageSize) && (offset || limit)) {
        throw QueryError(page ? "page" : "pageSize", "use either page/pageSize or offset/limit, not both");
    }
    if (page || pageSize) {
        q.setPage(page.value_or(1), pageSize.value_or(defaultLimit));
    } else {
        q.offset = offset.value_or(0);
        q.limit = limit ? (*limit > maxLimit ? maxLimit : *limit) : defaultLimit;
    }
    return q;
}

}  // namespace hub::catalog
