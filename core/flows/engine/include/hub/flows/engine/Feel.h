#pragma once

// The FEEL subset a process designer writes in Camunda Modeler for "Camunda 8"
// (conditions, input and output mappings): compiled when a flow is deployed,
// evaluated on an instance's variables. What is supported (docs/flows/bpmn.md):
//   a leading '=' (an expression; without it the text is a string literal,
//   as Zeebe reads an ioMapping source);
//   paths: name, name.member.member (a missing member is null);
//   literals: "string" (any UTF-8, \" \\ \n \t \uXXXX escapes), numbers
//   (123, 4.5, -1 via unary minus), true, false, null;
//   comparison: = != < <= > >= (numbers with numbers, strings with strings;
//   = and != on any values; a comparison with null other than = / != is null);
//   boolean: and, or (ternary logic as FEEL's), not(x);
//   arithmetic: + - * / on numbers, + on strings (concatenation);
//   parentheses.
// Anything else (function calls but not(), lists, contexts, for/if/some,
// ranges, filters, instance of, between, in) is refused at compile time.

#include "hub/flows/engine/Value.h"

#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>

namespace hub::flows::engine {

/// What FEEL compilation refuses: `position` is the 0-based byte offset in
/// the expression, `what` the problem. The message ends with what the subset
/// supports.
class FeelError : public std::runtime_error {
public:
    FeelError(const std::string& what, std::size_t position);
    std::size_t position() const noexcept { return position_; }
    const std::string& problem() const noexcept { return problem_; }

private:
    std::string problem_;
    std::size_t position_;
};

/// The subset in one line, for error messages.
extern const char* const kFeelSupported;

namespace feel {
struct Node;
}

/// A compiled expression (immutable, shareable between threads).
class Expression {
public:
    Expression() = default;

    /// Compiles `text`. With a leading '=' the rest is FEEL; without it the text
    /// is a string literal (`literalAllowed`) or refused. Throws FeelError.
    static Expression compile(std::string_view text, bool literalAllowed = false);

    /// Evaluates on `variables` (an object; paths start at its members).
    /// Never throws for data: a type mismatch yields null, as FEEL does.
    Value evaluate(const Value& variables) const;

    /// As written.
    const std::string& text() const noexcept { return text_; }

    /// True for a default-constructed (never compiled) expression.
    bool empty() const noexcept { return !root_; }

private:
    std::string text_;
    std::shared_ptr<const feel::Node> root_;
};

}  // namespace hub::flows::engine
