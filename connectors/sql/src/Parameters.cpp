#include "Parameters.h"

#include "hub/common/Utf8.h"
#include "hub/sql/DataSource.h"

#include <rapidjson/document.h>
#include <rapidjson/error/en.h>

namespace hub::sql {

namespace {

[[noreturn]] void invalid(const std::string& why) {
    throw QueryError(Failure::InvalidRequest, why);
}

}  // namespace

void checkStatement(std::string_view sql) {
    if (sql.find_first_not_of(" \t\r\n") == std::string_view::npos) invalid("the SQL statement is empty");
    if (sql.size() > kMaxStatementBytes)
        invalid("the SQL statement of " + std::to_string(sql.size()) + " bytes exceeds " +
                std::to_string(kMaxStatementBytes));
    if (sql.find('\0') != std::string_view::npos) invalid("the SQL statement holds a NUL byte");
    if (!isValidUtf8(sql)) invalid("the SQL statement is not valid UTF-8");
}

Parameters::Parameters(std::string_view json) {
    if (json.find_first_not_of(" \t\r\n") == std::string_view::npos) return;
    if (json.size() > kMaxParametersBytes)
        invalid("the parameters' " + std::to_string(json.size()) + " bytes exceed " + std::to_string(kMaxParametersBytes));
    if (!isValidUtf8(json)) invalid("the parameters are not valid UTF-8");
    rapidjson::Document d;
    // Numbers kept as written: a bound 12345678901234567890.10 must reach the server unrounded.
    d.Parse<rapidjson::kParseNumbersAsStringsFlag>(json.data(), json.size());
    if (d.HasParseError())
        invalid(std::string("the parameters are not JSON: ") + rapidjson::GetParseError_En(d.GetParseError()) +
                " at byte " + std::to_string(d.GetErrorOffset()));
    if (!d.IsArray()) invalid("the parameters must be a JSON array");
    if (d.Size() > kMaxParameters)
        invalid("more than " + std::to_string(kMaxParameters) + " parameters (" + std::to_string(d.Size()) + ")");
    std::vector<bool> isNull;
    for (rapidjson::SizeType i = 0; i < d.Size(); ++i) {
        const auto& v = d[i];
        const std::string where = "parameter $" + std::to_string(i + 1);
        if (v.IsNull()) {
            texts_.emplace_back();
            isNull.push_back(true);
            continue;
        }
        if (v.IsBool()) {
            texts_.push_back(v.GetBool() ? "true" : "false");
        } else if (v.IsString()) {
            std::string text(v.GetString(), v.GetStringLength());
            if (text.find('\0') != std::string::npos) invalid(where + " holds a NUL character");
            texts_.push_back(std::move(text));
        } else {
            invalid(where + " is an object or array; only strings, numbers, booleans and null are bound");
        }
        isNull.push_back(false);
    }
    for (std::size_t i = 0; i < texts_.size(); ++i) pointers_.push_back(isNull[i] ? nullptr : texts_[i].c_str());
}

}  // namespace hub::sql
