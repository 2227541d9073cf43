#pragma once
// Private to connectors/sql: a statement's parameters, read from their JSON
// array, held as the text libpq binds; and the checks on the statement itself.

#include <string>
#include <string_view>
#include <vector>

namespace hub::sql {

/// Throws QueryError (InvalidRequest) when sql is empty, too long, not UTF-8 or holds NUL.
void checkStatement(std::string_view sql);

/// The JSON array's values as text parameters: a string as it is, a number as
/// written (exactly: no trip through double), true/false, null as SQL NULL.
/// Throws QueryError (InvalidRequest) naming what is wrong and where.
class Parameters {
public:
    explicit Parameters(std::string_view json);
    std::size_t size() const { return texts_.size(); }
    /// For PQsendQueryParams: one pointer per parameter, null for NULL.
    const char* const* values() const { return pointers_.empty() ? nullptr : pointers_.data(); }

private:
    std::vector<std::string> texts_;
    std::vector<const char*> pointers_;
};

}  // namespace hub::sql
