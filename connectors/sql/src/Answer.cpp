#include "Answer.h"

#include "hub/common/JsonWriter.h"
#include "hub/common/Utf8.h"
#include "hub/sql/DataSource.h"

#include <cstdlib>
#include <set>

namespace hub::sql {

namespace {

// Type OIDs of pg_type (stable since PostgreSQL 7: src/include/catalog/pg_type.dat).
enum : Oid { kBool = 16, kInt8 = 20, kInt2 = 21, kInt4 = 23, kOid = 26, kFloat4 = 700, kFloat8 = 701, kNumeric = 1700,
             kText = 25, kVarchar = 1043, kBpchar = 1042, kDate = 1082, kTimestamp = 1114, kTimestampTz = 1184,
             kJson = 114, kJsonb = 3802, kBytea = 17, kUuid = 2950 };

const char* typeName(Oid type) {
    switch (type) {
        case kBool: return "bool";
        case kInt2: return "int2";
        case kInt4: return "int4";
        case kInt8: return "int8";
        case kOid: return "oid";
        case kFloat4: return "float4";
        case kFloat8: return "float8";
        case kNumeric: return "numeric";
        case kText: return "text";
        case kVarchar: return "varchar";
        case kBpchar: return "bpchar";
        case kDate: return "date";
        case kTimestamp: return "timestamp";
        case kTimestampTz: return "timestamptz";
        case kJson: return "json";
        case kJsonb: return "jsonb";
        case kBytea: return "bytea";
        case kUuid: return "uuid";
        default: return "other";
    }
}

bool isFiniteNumber(const char* text) {
    // float4/float8 may be NaN, Infinity, -Infinity: not JSON numbers.
    return text[0] != 'N' && text[0] != 'I' && !(text[0] == '-' && text[1] == 'I');
}

[[noreturn]] void badAnswer(const SourceOptions& o, const std::string& why) {
    throw QueryError(Failure::BadAnswer, "data source " + o.name + ": " + why);
}

}  // namespace

std::string toJson(const PGresult* r, const SourceOptions& o) {
    const int rows = PQntuples(r);
    const int columns = PQnfields(r);
    if (static_cast<std::size_t>(rows) > o.maxRows)
        badAnswer(o, "the statement returned " + std::to_string(rows) + " rows, more than the source's maxRows (" +
                         std::to_string(o.maxRows) + "): add a LIMIT");
    std::string out = "{\"columns\":[";
    std::set<std::string> names;
    for (int c = 0; c < columns; ++c) {
        std::string name = PQfname(r, c);
        if (!isValidUtf8(name)) badAnswer(o, "column " + std::to_string(c + 1) + "'s name is not valid UTF-8");
        if (!names.insert(name).second) badAnswer(o, "two columns are named '" + name + "': give one an alias");
        if (c) out += ',';
        out += "{\"name\":";
        json::appendString(out, name);
        out += ",\"type\":\"";
        out += typeName(PQftype(r, c));
        out += "\"}";
    }
    out += "],\"rows\":[";
    for (int row = 0; row < rows; ++row) {
        out += row ? ",{" : "{";
        for (int c = 0; c < columns; ++c) {
            if (c) out += ',';
            json::appendKey(out, PQfname(r, c));
            if (PQgetisnull(r, row, c)) {
                out += "null";
                continue;
            }
            const char* text = PQgetvalue(r, row, c);
            const std::string_view value(text, static_cast<std::size_t>(PQgetlength(r, row, c)));
            switch (PQftype(r, c)) {
                case kBool: out += value == "t" ? "true" : "false"; break;
                case kInt2: case kInt4: case kInt8: case kOid: out += value; break;
                case kFloat4: case kFloat8:
                    if (isFiniteNumber(text)) out += value;
                    else json::appendString(out, value);
                    break;
                default:
                    // A server whose database is SQL_ASCII hands over whatever bytes it holds.
                    if (!isValidUtf8(value))
                        badAnswer(o, "column " + std::string(PQfname(r, c)) + " of row " + std::to_string(row + 1) +
                                         " is not valid UTF-8");
                    json::appendString(out, value);
            }
        }
        out += '}';
        if (out.size() > o.maxAnswerBytes)
            badAnswer(o, "the answer exceeds " + std::to_string(o.maxAnswerBytes) + " bytes");
    }
    const char* affected = PQcmdTuples(const_cast<PGresult*>(r));
    out += "],\"affected\":";
    out += (affected && *affected) ? affected : std::to_string(rows);
    out += '}';
    return out;
}

}  // namespace hub::sql
