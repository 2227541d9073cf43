#pragma once
// Private to connectors/sql: a statement's result as the JSON DataSource::query answers.

#include <libpq-fe.h>

#include <string>

namespace hub::sql {

struct SourceOptions;

/// {"columns":[...],"rows":[...],"affected":N} (see DataSource). Throws
/// QueryError (BadAnswer) for text that is not UTF-8, more than maxRows rows,
/// an answer over maxAnswerBytes, or two columns of one name; BadQuery for a
/// statement that copies (COPY).
std::string toJson(const PGresult* result, const SourceOptions& options);

}  // namespace hub::sql
