#pragma once

#include "hub/catalog/Audience.h"

#include <cstddef>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace hub::catalog {

struct ServiceItem;

/// A bad query parameter (HTTP 400): what() names the parameter and value.
class QueryError : public std::invalid_argument {
public:
    QueryError(std::string parameter, const std::string& message)
        : std::invalid_argument(message), parameter_(std::move(parameter)) {}
    const std::string& parameter() const noexcept { return parameter_; }

private:
    std::string parameter_;
};

/// A catalogue search. All filters are combined with AND; empty means "any".
struct Query {
    static constexpr std::size_t defaultLimit = 20;
    static constexpr std::size_t maxLimit = 1000;  ///< Larger limits are clamped to this.

    /// The caller's audiences. Only items serving at least one of them are
    /// visible; an empty set sees nothing. Use AudienceSet::all() only for
    /// service tokens and operators.
    AudienceSet viewer;
    /// Optional narrowing (?audience=visitor); intersected with viewer.
    std::optional<AudienceSet> audience;
    std::string category;    ///< Category id.
    std::string department;  ///< Department id.
    std::optional<Channel> channel;
    /// Free text: every whitespace-separated word must occur in the item's
    /// Chinese or English name or description, id, category or department
    /// name. ASCII letters match case-insensitively; Chinese by substring.
    std::string text;
    std::size_t offset = 0;
    std::size_t limit = defaultLimit;

    /// Sets offset/limit from a 1-based page number. Throws QueryError for
    /// page < 1 or pageSize < 1; pageSize is clamped to maxLimit.
    void setPage(std::size_t page, std::size_t pageSize);

    /// Builds a query from decoded URL parameters: category, department,
    /// channel, audience, q (or search), page + pageSize, or offset + limit.
    /// Unknown parameters are ignored. Throws QueryError naming the parameter
    /// on a bad value (unknown channel/audience, non-numeric or zero page,
    /// both page and offset given).
    static Query fromParameters(const std::vector<std::pair<std::string, std::string>>& parameters,
                                AudienceSet viewer);
};

/// One page of results. Pointers stay valid while the Snapshot they came from lives.
struct Page {
    std::vector<const ServiceItem*> items;
    std::size_t total = 0;   ///< Matches before paging.
    std::size_t offset = 0;
    std::size_t limit = 0;   ///< After clamping.
};

}  // namespace hub::catalog
