#include "hub/catalog/ApplicationValidator.h"

#include "LocalizedJson.h"
#include "hub/catalog/WorkingCalendar.h"
#include "hub/common/Utf8.h"

#include <Poco/Dynamic/Var.h>
#include <Poco/Exception.h>
#include <Poco/JSON/Parser.h>

#include <algorithm>
#include <set>

namespace hub::catalog {

namespace {

/// Number of characters (code points), or nullopt when `s` is not valid UTF-8.
std::optional<std::size_t> utf8Length(std::string_view s) {
    if (!isValidUtf8(s)) return std::nullopt;
    // Valid: every byte but a continuation byte starts a character.
    return static_cast<std::size_t>(
        std::count_if(s.begin(), s.end(), [](char c) { return (static_cast<unsigned char>(c) & 0xC0) != 0x80; }));
}

/// Echoing user input in a message: at most 60 characters, never broken UTF-8.
std::string shown(std::string_view s) {
    if (!isValidUtf8(s)) return "(invalid UTF-8)";
    std::size_t i = 0;
    for (std::size_t chars = 0; i < s.size() && chars < 60; ++chars) i += utf8SequenceLength(s, i);
    return std::string(s.substr(0, i)) + (i < s.size() ? "..." : "");
}

bool blank(std::string_view s) {
    return std::all_of(s.begin(), s.end(), [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; });
}

std::string numberText(double v) {
    std::string out;
    json::appendNumber(out, v);
    return out;
}

class Checker {
public:
    explicit Checker(ValidationResult& result) : result_(result) {}

    void problem(const std::string& field, const char* code, const std::string& en, const std::string& zh) {
        result_.problems.push_back(ValidationProblem{field, code, en, zh});
    }

    void field(const FormField& f, const Poco::JSON::Object::Ptr& form) {
        const std::string key = "form." + f.id;
        const std::string en = "'" + f.label.en + "' (" + f.id + ")";
        const std::string zh = "“" + f.label.zh + "”";
        Poco::Dynamic::Var value;
        bool present = form && form->has(f.id);
        if (present) {
            value = form->get(f.id);
            present = !value.isEmpty();
        }
        if (present && value.isString() && blank(value.extract<std::string>())) {
            present = false;
        }
        if (!present) {
            if (f.required) problem(key, "missing", en + " is required", "请填写" + zh);
            return;
        }
        auto wrongType = [&](const char* expected, const char* expectedZh) {
            problem(key, "wrong_type", en + " must be " + expected, zh + "应为" + expectedZh);
        };
        switch (f.type) {
        case FieldType::String:
        case FieldType::File: {
            if (!value.isString()) {
                wrongType(f.type == FieldType::File ? "a file reference (string)" : "text", "文本");
                return;
            }
            const std::string& s = value.extract<std::string>();
            auto length = utf8Length(s);
            if (!length) {
                problem(key, "invalid_utf8", en + " is not valid UTF-8 text", zh + "包含无效字符");
            } else if (f.maxLength && *length > *f.maxLength) {
                problem(key, "too_long",
                        en + " is " + std::to_string(*length) + " characters long; at most " +
                            std::to_string(*f.maxLength) + " are allowed",
                        zh + "最多" + std::to_string(*f.maxLength) + "个字，当前" + std::to_string(*length) + "个");
            }
            return;
        }
        case FieldType::Integer:
        case FieldType::Number: {
            bool integer = f.type == FieldType::Integer;
            if (value.isBoolean() || value.isString() || !value.isNumeric() || (integer && !value.isInteger())) {
                wrongType(integer ? "a whole number" : "a number", integer ? "整数" : "数字");
                return;
            }
            double v = value.convert<double>();
            if ((f.min && v < *f.min) || (f.max && v > *f.max)) {
                std::string range = (f.min ? numberText(*f.min) : std::string("-")) + " .. " +
                                    (f.max ? numberText(*f.max) : std::string("-"));
                problem(key, "out_of_range", en + " must be within " + range, zh + "应在" + range + "之间");
            }
            return;
        }
        case FieldType::Boolean:
            if (!value.isBoolean()) wrongType("true or false", "是或否");
            return;
        case FieldType::Date:
            if (!value.isString()) {
                wrongType("a date (YYYY-MM-DD)", "日期（YYYY-MM-DD）");
            } else if (!WorkingCalendar::parseDate(value.extract<std::string>())) {
                problem(key, "invalid_date", en + " must be a real date written YYYY-MM-DD",
                        zh + "应为有效日期（YYYY-MM-DD）");
            }
            return;
        case FieldType::Enum: {
            if (!value.isString()) {
                wrongType("one of the listed options", "列出的选项之一");
                return;
            }
            const std::string& s = value.extract<std::string>();
            bool known = std::any_of(f.options.begin(), f.options.end(), [&](const FieldOption& o) { return o.value == s; });
            if (!known) {
                std::string allowed;
                for (const auto& o : f.options) allowed += (allowed.empty() ? "" : ", ") + o.value;
                problem(key, "not_an_option", en + ": '" + shown(s) + "' is not one of " + allowed,
                        zh + "的取值无效，可选：" + allowed);
            }
            return;
        }
        }
    }

private:
    ValidationResult& result_;
};

void checkUnknownFields(const ServiceItem& item, const Poco::JSON::Object::Ptr& form, Checker& checker) {
    if (!form) return;
    std::vector<std::string> names;
    form->getNames(names);
    std::sort(names.begin(), names.end());
    for (const std::string& name : names) {
        if (item.field(name) == nullptr) {
            std::string name2 = shown(name);
            checker.problem("form." + name2, "unknown_field", "'" + name2 + "' is not a field of this service",
                            "“" + name2 + "”不是本事项的表单项");
        }
    }
}

void checkMaterials(const ServiceItem& item, const std::vector<std::string>& provided, ValidationResult& result,
                    Checker& checker) {
    std::set<std::string_view> given(provided.begin(), provided.end());
    for (const Material& m : item.materials) {
        if (m.required && given.count(m.id) == 0) {
            result.missingMaterials.push_back(m);
            checker.problem("materials." + m.id, "material_missing",
                            "material '" + m.name.en + "' (" + m.id + ") is missing", "缺少材料：" + m.name.zh);
        }
    }
    for (std::string_view id : given) {
        if (item.material(id) == nullptr) {
            std::string id2 = shown(id);
            checker.problem("materials." + id2, "unknown_material",
                            "'" + id2 + "' is not a material of this service", "“" + id2 + "”不是本事项所需材料");
        }
    }
}

}  // namespace

ValidationResult validateApplication(const ServiceItem& item, const Poco::JSON::Object::Ptr& form,
                                     const std::vector<std::string>& providedMaterials) {
    ValidationResult result;
    Checker checker(result);
    for (const FormField& f : item.fields) {
        checker.field(f, form);
    }
    checkUnknownFields(item, form, checker);
    checkMaterials(item, providedMaterials, result, checker);
    return result;
}

ValidationResult validateApplication(const ServiceItem& item, std::string_view formJson,
                                     const std::vector<std::string>& providedMaterials) {
    Poco::JSON::Object::Ptr form;
    std::string parseError;
    try {
        Poco::JSON::Parser parser;
        Poco::Dynamic::Var parsed = parser.parse(std::string(formJson));
        if (parsed.type() == typeid(Poco::JSON::Object::Ptr)) {
            form = parsed.extract<Poco::JSON::Object::Ptr>();
        } else {
            parseError = "the form must be a JSON object";
        }
    } catch (const Poco::Exception& e) {
        parseError = "the form is not valid JSON: " + e.displayText();
    }
    if (!parseError.empty()) {
        ValidationResult result;
        Checker checker(result);
        checker.problem("form", "invalid_json", parseError, "表单数据格式错误");
        checkMaterials(item, providedMaterials, result, checker);
        return result;
    }
    return validateApplication(item, form, providedMaterials);
}

std::string ValidationResult::toJson() const {
    std::string out = "{\"problems\":[";
    for (std::size_t i = 0; i < problems.size(); ++i) {
        const auto& p = problems[i];
        if (i) out += ',';
        out += "{\"field\":";
        json::appendString(out, p.field);
        out += ",\"code\":";
        json::appendString(out, p.code);
        out += ",\"message\":";
        json::appendString(out, p.message);
        out += ",\"messageZh\":";
        json::appendString(out, p.messageZh);
        out += '}';
    }
    out += "],\"missingMaterials\":[";
    for (std::size_t i = 0; i < missingMaterials.size(); ++i) {
        if (i) out += ',';
        out += "{\"id\":";
        json::appendString(out, missingMaterials[i].id);
        out += ",\"name\":";
        appendLocalized(out, missingMaterials[i].name);
        out += '}';
    }
    out += "]}";
    return out;
}

}  // namespace hub::catalog
