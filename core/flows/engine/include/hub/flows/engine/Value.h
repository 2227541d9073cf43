#pragma once

// The engine's variables: a small JSON value. Own type rather than
// Poco::Dynamic::Var: values are compared and copied on every step, objects
// keep their keys sorted (so a saved instance is byte-for-byte reproducible),
// and nothing is shared between instances behind a reference count.

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace hub::flows::engine {

class Value {
public:
    using Array = std::vector<Value>;
    using Object = std::map<std::string, Value, std::less<>>;

    enum class Type { Null, Boolean, Number, String, Array, Object };

    Value() = default;
    Value(std::nullptr_t) {}
    Value(bool b) : data_(b) {}
    Value(double d) : data_(d) {}
    Value(int i) : data_(static_cast<double>(i)) {}
    Value(std::int64_t i) : data_(static_cast<double>(i)) {}
    Value(const char* s) : data_(std::string(s)) {}
    Value(std::string s) : data_(std::move(s)) {}
    Value(Array a) : data_(std::make_shared<Array>(std::move(a))) {}
    Value(Object o) : data_(std::make_shared<Object>(std::move(o))) {}

    Type type() const noexcept { return static_cast<Type>(data_.index()); }
    bool isNull() const noexcept { return type() == Type::Null; }
    bool isBoolean() const noexcept { return type() == Type::Boolean; }
    bool isNumber() const noexcept { return type() == Type::Number; }
    bool isString() const noexcept { return type() == Type::String; }
    bool isArray() const noexcept { return type() == Type::Array; }
    bool isObject() const noexcept { return type() == Type::Object; }

    bool asBoolean() const { return std::get<bool>(data_); }
    double asNumber() const { return std::get<double>(data_); }
    const std::string& asString() const { return std::get<std::string>(data_); }
    const Array& asArray() const { return *std::get<std::shared_ptr<Array>>(data_); }
    const Object& asObject() const { return *std::get<std::shared_ptr<Object>>(data_); }

    /// The member `key` of an object, or null (also for a non-object).
    const Value& member(std::string_view key) const;

    /// Sets a member, making this an object first if it is not one (copy on write).
    void set(const std::string& key, Value value);

    /// Deep equality (numbers by value, objects by keys and values).
    bool operator==(const Value& other) const;

    /// The value as JSON text (keys sorted, numbers as hub::json writes them).
    std::string toJson() const;
    void appendJson(std::string& out) const;

    /// Parses JSON text; throws std::invalid_argument with the parser's message.
    static Value fromJson(std::string_view text);

    /// "null", "boolean", "number", "string", "list", "context" (FEEL's names).
    const char* typeName() const noexcept;

private:
    // Shared pointers so a copy is cheap; never mutated while shared (set() copies).
    std::variant<std::monostate, bool, double, std::string, std::shared_ptr<Array>, std::shared_ptr<Object>> data_;
};

}  // namespace hub::flows::engine
