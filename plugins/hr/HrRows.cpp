#include "HrRows.h"

#include <campushub/json.hpp>

#include <algorithm>
#include <cctype>
#include <stdexcept>

namespace hr {

namespace {

// Header names the HR system uses (English or its Chinese labels) -> the hub's field.
const std::unordered_map<std::string, std::string>& knownHeaders() {
    static const std::unordered_map<std::string, std::string> names{
        {"employee_id", "id"},         {"工号", "id"},
        {"职工号", "id"},              {"name", "name"},
        {"姓名", "name"},              {"department", "department"},
        {"部门", "department"},        {"email", "emails"},
        {"邮箱", "emails"},            {"employment_status", "employment_status"},
        {"在职状态", "employment_status"}, {"title", "title"},
        {"职称", "title"},             {"hire_date", "hire_date"},
        {"入职日期", "hire_date"},     {"staff_category", "staff_category"},
        {"人员类别", "staff_category"},
    };
    return names;
}

// The HR system's status words -> the hub's values.
const std::unordered_map<std::string, std::string>& statuses() {
    static const std::unordered_map<std::string, std::string> values{
        {"active", "active"},   {"在职", "active"},    {"on_leave", "on_leave"}, {"休假", "on_leave"},
        {"retired", "retired"}, {"退休", "retired"},   {"left", "left"},         {"离职", "left"},
    };
    return values;
}

std::string trimmed(std::string s) {
    auto blank = [](unsigned char c) { return c == ' ' || c == '\t' || c == '\r'; };
    while (!s.empty() && blank(static_cast<unsigned char>(s.back()))) s.pop_back();
    std::size_t start = 0;
    while (start < s.size() && blank(static_cast<unsigned char>(s[start]))) ++start;
    return s.substr(start);
}

bool leapYear(int y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

// YYYY-MM-DD (or YYYY/MM/DD, as spreadsheets write it) -> YYYY-MM-DD.
std::string isoDate(const std::string& v) {
    if (v.size() != 10 || (v[4] != '-' && v[4] != '/') || v[7] != v[4]) throw std::invalid_argument("");
    for (std::size_t i : {0, 1, 2, 3, 5, 6, 8, 9})
        if (!std::isdigit(static_cast<unsigned char>(v[i]))) throw std::invalid_argument("");
    int y = std::stoi(v.substr(0, 4)), m = std::stoi(v.substr(5, 2)), d = std::stoi(v.substr(8, 2));
    static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (y < 1900 || m < 1 || m > 12 || d < 1 || d > kDays[m - 1] + (m == 2 && leapYear(y) ? 1 : 0))
        throw std::invalid_argument("");
    return v.substr(0, 4) + "-" + v.substr(5, 2) + "-" + v.substr(8, 2);
}

}  // namespace

const std::vector<std::string>& hrOwnedFields() {
    static const std::vector<std::string> fields{"employment_status", "title", "hire_date", "staff_category"};
    return fields;
}

Columns::Columns(const std::vector<std::string>& header) {
    bool haveId = false;
    for (std::size_t i = 0; i < header.size(); ++i) {
        std::string name = trimmed(header[i]);
        std::string lower = name;
        std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
        auto it = knownHeaders().find(lower);
        std::string field = it == knownHeaders().end() ? std::string() : it->second;
        if (field.empty()) {
            ignored_.push_back(name.substr(0, 64));
        } else if (std::find(fields_.begin(), fields_.end(), field) != fields_.end()) {
            throw std::invalid_argument("the header names the column of '" + field + "' twice");
        } else if (field == "id") {
            haveId = true;
            idColumn_ = i;
        }
        fields_.push_back(field);
        headers_.push_back(name.substr(0, 64));
    }
    if (!haveId) throw std::invalid_argument("the header has no employee_id (工号) column");
}

std::string Columns::record(const std::vector<std::string>& row, std::string& id) const {
    if (row.size() != fields_.size())
        throw std::invalid_argument(std::to_string(row.size()) + " fields, the header has " +
                                    std::to_string(fields_.size()));
    for (std::size_t i = 0; i < row.size(); ++i) {
        const std::string& v = row[i];
        const std::string column = "column " + std::to_string(i + 1) + " (" + headers_[i] + ")";
        if (v.find('\0') != std::string::npos) throw std::invalid_argument(column + " holds a NUL byte");
        if (v.size() > kMaxValueBytes)
            throw std::invalid_argument(column + " is " + std::to_string(v.size()) + " bytes, more than " +
                                        std::to_string(kMaxValueBytes));
        if (!fields_[i].empty() && std::any_of(v.begin(), v.end(), [](char c) {
                return static_cast<unsigned char>(c) < 0x20 && c != '\t' && c != '\n' && c != '\r';
            }))
            throw std::invalid_argument(column + " holds a control character");
    }
    id = trimmed(row[idColumn_]);
    if (id.empty()) throw std::invalid_argument("employee_id (工号) is empty");
    if (id.size() > 64 || !std::all_of(id.begin(), id.end(), [](unsigned char c) {
            return std::isalnum(c) || c == '.' || c == '_' || c == '-';
        }))
        throw std::invalid_argument("employee_id (工号) '" + id.substr(0, 64) +
                                    "' must be 1 to 64 letters, digits, '.', '_' or '-'");
    campushub::json::Writer w;
    w.object().key("id").string(id).key("fields").object();
    for (std::size_t i = 0; i < row.size(); ++i) {
        const std::string& field = fields_[i];
        if (field.empty() || field == "id") continue;
        std::string v = trimmed(row[i]);
        if (v.empty()) continue;
        if (field == "hire_date") {
            try {
                v = isoDate(v);
            } catch (const std::exception&) {
                throw std::invalid_argument("hire_date (入职日期) '" + v.substr(0, 40) + "' is not a date YYYY-MM-DD");
            }
        } else if (field == "employment_status") {
            auto it = statuses().find(v);
            if (it == statuses().end())
                throw std::invalid_argument("employment_status (在职状态) '" + v.substr(0, 40) +
                                            "' is none of active/在职, on_leave/休假, retired/退休, left/离职");
            v = it->second;
        }
        w.key(field).string(v);
    }
    w.end().end();
    return w.str();
}

}  // namespace hr
