#include "hub/flows/engine/TaskForm.h"

#include <algorithm>
#include <cmath>
#include <set>

namespace hub::flows::engine {

namespace {

constexpr std::size_t kMaxFormBytes = 64 * 1024;
constexpr std::size_t kMaxFields = 200;

// Components that only show something: no value to check.
bool displayOnly(const std::string& type) {
    static const std::set<std::string> kinds{"text", "spacer", "separator", "image", "button", "html", "group",
                                             "iframe"};
    return kinds.count(type) > 0;
}

bool hasOptions(const std::string& type) {
    return type == "select" || type == "radio" || type == "checklist" || type == "taglist";
}

bool knownType(const std::string& type) {
    return type == "textfield" || type == "textarea" || type == "number" || type == "checkbox" ||
           type == "datetime" || hasOptions(type);
}

std::optional<double> number(const Value& v) {
    if (v.isNumber()) return v.asNumber();
    // The form editor writes numbers in validate as numbers; "5" is accepted too.
    if (v.isString()) {
        try {
            std::size_t used = 0;
            double d = std::stod(v.asString(), &used);
            if (used == v.asString().size()) return d;
        } catch (const std::exception&) {
        }
    }
    return std::nullopt;
}

std::optional<std::size_t> length(const Value& v, const std::string& key, const std::string& what) {
    auto n = number(v);
    if (v.isNull()) return std::nullopt;
    if (!n || *n < 0 || *n != std::floor(*n)) throw FormError("field '" + key + "': validate." + what + " is not a whole number");
    return static_cast<std::size_t>(*n);
}

// Code points in valid UTF-8 (the API checked it is valid).
std::size_t characters(const std::string& text) {
    return static_cast<std::size_t>(
        std::count_if(text.begin(), text.end(), [](char c) { return (static_cast<unsigned char>(c) & 0xC0) != 0x80; }));
}

std::string optionText(const Value& v) {
    if (v.isString()) return v.asString();
    if (v.isNumber() || v.isBoolean()) return v.toJson();
    return {};
}

}  // namespace

std::vector<FormField> parseTaskForm(const std::string& json) {
    if (json.size() > kMaxFormBytes) throw FormError("the form is larger than 64 KiB");
    Value schema;
    try {
        schema = Value::fromJson(json);
    } catch (const std::exception& e) {
        throw FormError(std::string("the form is not JSON: ") + e.what());
    }
    const Value& components = schema.member("components");
    if (!components.isArray()) throw FormError("the form has no \"components\" list (a Camunda Forms schema)");
    std::vector<FormField> fields;
    std::set<std::string> keys;
    for (const Value& c : components.asArray()) {
        const std::string type = c.member("type").isString() ? c.member("type").asString() : std::string();
        if (displayOnly(type)) continue;
        if (!knownType(type))
            throw FormError("form component type '" + type +
                            "' is not supported (textfield, textarea, number, checkbox, select, radio, checklist, "
                            "taglist, datetime; text, spacer, separator, image and button are shown only)");
        FormField field;
        field.type = type;
        field.key = c.member("key").isString() ? c.member("key").asString() : std::string();
        if (field.key.empty()) throw FormError("a form component of type '" + type + "' has no key");
        if (!keys.insert(field.key).second) throw FormError("form field '" + field.key + "' is declared twice");
        if (c.member("label").isString()) field.label = c.member("label").asString();
        const Value& validate = c.member("validate");
        field.required = validate.member("required").isBoolean() && validate.member("required").asBoolean();
        field.minLength = length(validate.member("minLength"), field.key, "minLength");
        field.maxLength = length(validate.member("maxLength"), field.key, "maxLength");
        if (!validate.member("min").isNull()) field.min = number(validate.member("min"));
        if (!validate.member("max").isNull()) field.max = number(validate.member("max"));
        if (hasOptions(type)) {
            if (!c.member("values").isArray() || c.member("values").asArray().empty())
                throw FormError("form field '" + field.key + "' (" + type +
                                ") lists no values; options from a variable or a source are not supported");
            for (const Value& option : c.member("values").asArray()) field.options.push_back(optionText(option.member("value")));
        }
        fields.push_back(std::move(field));
        if (fields.size() > kMaxFields) throw FormError("the form has more than 200 fields");
    }
    return fields;
}

std::vector<FormProblem> checkTaskForm(const std::vector<FormField>& form, const Value& fields) {
    std::vector<FormProblem> problems;
    auto add = [&](const FormField& f, const char* code, const std::string& message) {
        problems.push_back({f.key, code, (f.label.empty() ? f.key : f.label + " (" + f.key + ")") + ": " + message});
    };
    for (const FormField& f : form) {
        const Value& v = fields.member(f.key);
        if (v.isNull() || (v.isString() && v.asString().empty()) || (v.isArray() && v.asArray().empty())) {
            if (f.required) add(f, "required", "is required");
            continue;
        }
        if (f.type == "number") {
            if (!v.isNumber()) {
                add(f, "type", std::string("must be a number, not a ") + v.typeName());
                continue;
            }
            if (f.min && v.asNumber() < *f.min) add(f, "min", "must be at least " + Value(*f.min).toJson());
            if (f.max && v.asNumber() > *f.max) add(f, "max", "must be at most " + Value(*f.max).toJson());
        } else if (f.type == "checkbox") {
            if (!v.isBoolean()) add(f, "type", std::string("must be true or false, not a ") + v.typeName());
        } else if (f.type == "checklist" || f.type == "taglist") {
            if (!v.isArray()) {
                add(f, "type", std::string("must be a list, not a ") + v.typeName());
                continue;
            }
            for (const Value& item : v.asArray())
                if (std::find(f.options.begin(), f.options.end(), optionText(item)) == f.options.end() ||
                    optionText(item).empty())
                    add(f, "enum", "'" + optionText(item) + "' is not one of its options");
        } else if (hasOptions(f.type)) {
            if (std::find(f.options.begin(), f.options.end(), optionText(v)) == f.options.end() || optionText(v).empty())
                add(f, "enum", "'" + optionText(v) + "' is not one of its options");
        } else {  // textfield, textarea, datetime
            if (!v.isString()) {
                add(f, "type", std::string("must be a text, not a ") + v.typeName());
                continue;
            }
            const std::size_t n = characters(v.asString());
            if (f.minLength && n < *f.minLength)
                add(f, "min_length", "must be at least " + std::to_string(*f.minLength) + " characters");
            if (f.maxLength && n > *f.maxLength)
                add(f, "max_length", "must be at most " + std::to_string(*f.maxLength) + " characters");
        }
    }
    if (fields.isObject())
        for (const auto& member : fields.asObject()) {
            // Not a structured binding: clang 14 (the fuzz tree) cannot capture one in a lambda.
            const auto& key = member.first;
            if (std::none_of(form.begin(), form.end(), [&](const FormField& f) { return f.key == key; }))
                problems.push_back({key, "unknown", key + ": the task's form has no such field"});
        }
    return problems;
}

}  // namespace hub::flows::engine
