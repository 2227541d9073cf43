// The FEEL subset (Feel.h): a hand-written recursive-descent parser over a
// few dozen tokens. No FEEL library exists for C++; the subset is small, and a
// parser written for it refuses everything outside it with a precise message.
#include "hub/flows/engine/Feel.h"

#include <cmath>
#include <cstdlib>
#include <vector>

namespace hub::flows::engine {

const char* const kFeelSupported =
    "supported: a leading '=', paths (form.days), \"strings\", numbers, true, false, null, "
    "= != < <= > >=, and, or, not(), + - * /, parentheses";

FeelError::FeelError(const std::string& what, std::size_t position)
    : std::runtime_error(what + " at offset " + std::to_string(position) + "; " + kFeelSupported),
      problem_(what),
      position_(position) {}

namespace feel {

enum class Op { Path, Literal, Not, Negate, And, Or, Eq, Ne, Lt, Le, Gt, Ge, Add, Sub, Mul, Div };

struct Node {
    Op op = Op::Literal;
    Value literal;
    std::vector<std::string> path;
    std::shared_ptr<const Node> left;
    std::shared_ptr<const Node> right;
};

}  // namespace feel

// The lexer and parser live in feel: a unity build compiles this file with
// Engine.cpp, which has a Token of its own.
namespace feel {
namespace {

using NodePtr = std::shared_ptr<const Node>;

constexpr std::size_t kMaxLength = 4096;
constexpr int kMaxDepth = 48;

enum class Tok { End, Name, Number, String, LParen, RParen, Dot, Op };

struct Token {
    Tok kind = Tok::End;
    std::string text;  // name, operator, decoded string, number text
    std::size_t position = 0;
};

bool nameStart(unsigned char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == '$' || c >= 0x80;
}
bool namePart(unsigned char c) {
    return nameStart(c) || (c >= '0' && c <= '9');
}

void appendUtf8(std::string& out, unsigned code) {
    if (code < 0x80) {
        out += static_cast<char>(code);
    } else if (code < 0x800) {
        out += static_cast<char>(0xC0 | (code >> 6));
        out += static_cast<char>(0x80 | (code & 0x3F));
    } else {
        out += static_cast<char>(0xE0 | (code >> 12));
        out += static_cast<char>(0x80 | ((code >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (code & 0x3F));
    }
}

class Lexer {
public:
    Lexer(std::string_view text, std::size_t offset) : text_(text), offset_(offset) {}

    std::vector<Token> run() {
        std::vector<Token> tokens;
        while (true) {
            while (pos_ < text_.size() && (text_[pos_] == ' ' || text_[pos_] == '\t' || text_[pos_] == '\n' ||
                                           text_[pos_] == '\r'))
                ++pos_;
            Token token;
            token.position = pos_ + offset_;
            if (pos_ >= text_.size()) {
                tokens.push_back(token);
                return tokens;
            }
            const auto c = static_cast<unsigned char>(text_[pos_]);
            if (nameStart(c)) {
                std::size_t start = pos_;
                while (pos_ < text_.size() && namePart(static_cast<unsigned char>(text_[pos_]))) ++pos_;
                token.kind = Tok::Name;
                token.text = std::string(text_.substr(start, pos_ - start));
            } else if (c >= '0' && c <= '9') {
                std::size_t start = pos_;
                while (pos_ < text_.size() && text_[pos_] >= '0' && text_[pos_] <= '9') ++pos_;
                if (pos_ + 1 < text_.size() && text_[pos_] == '.' && text_[pos_ + 1] >= '0' && text_[pos_ + 1] <= '9') {
                    ++pos_;
                    while (pos_ < text_.size() && text_[pos_] >= '0' && text_[pos_] <= '9') ++pos_;
                }
                token.kind = Tok::Number;
                token.text = std::string(text_.substr(start, pos_ - start));
            } else if (c == '"') {
                token.kind = Tok::String;
                token.text = readString();
            } else if (c == '(') {
                token.kind = Tok::LParen;
                ++pos_;
            } else if (c == ')') {
                token.kind = Tok::RParen;
                ++pos_;
            } else if (c == '.') {
                if (pos_ + 1 < text_.size() && text_[pos_ + 1] == '.')
                    throw FeelError("ranges ('..') are not supported", token.position);
                token.kind = Tok::Dot;
                ++pos_;
            } else if (c == '!' && pos_ + 1 < text_.size() && text_[pos_ + 1] == '=') {
                token.kind = Tok::Op;
                token.text = "!=";
                pos_ += 2;
            } else if (c == '<' || c == '>') {
                token.kind = Tok::Op;
                token.text = std::string(1, static_cast<char>(c));
                ++pos_;
                if (pos_ < text_.size() && text_[pos_] == '=') {
                    token.text += '=';
                    ++pos_;
                }
            } else if (c == '=' || c == '+' || c == '-' || c == '/') {
                token.kind = Tok::Op;
                token.text = std::string(1, static_cast<char>(c));
                ++pos_;
            } else if (c == '*') {
                if (pos_ + 1 < text_.size() && text_[pos_ + 1] == '*')
                    throw FeelError("exponentiation ('**') is not supported", token.position);
                token.kind = Tok::Op;
                token.text = "*";
                ++pos_;
            } else {
                throw FeelError(describe(c), token.position);
            }
            tokens.push_back(std::move(token));
        }
    }

private:
    static std::string describe(unsigned char c) {
        switch (c) {
        case '[': case ']': return "lists and filters ('[') are not supported";
        case '{': case '}': return "contexts ('{') are not supported";
        case ',': return "',' (lists, several arguments) is not supported";
        case '\'': return "strings are written in double quotes";
        default:
            if (c < 0x20) return "control character " + std::to_string(c) + " is not allowed";
            return std::string("'") + static_cast<char>(c) + "' is not supported";
        }
    }

    std::string readString() {
        const std::size_t start = pos_ + offset_;
        ++pos_;
        std::string out;
        while (true) {
            if (pos_ >= text_.size()) throw FeelError("unterminated string", start);
            char c = text_[pos_++];
            if (c == '"') return out;
            if (c != '\\') {
                out += c;
                continue;
            }
            if (pos_ >= text_.size()) throw FeelError("unterminated string", start);
            char e = text_[pos_++];
            switch (e) {
            case '"': out += '"'; break;
            case '\\': out += '\\'; break;
            case '/': out += '/'; break;
            case 'n': out += '\n'; break;
            case 't': out += '\t'; break;
            case 'r': out += '\r'; break;
            case 'u': {
                if (pos_ + 4 > text_.size()) throw FeelError("\\u needs four hex digits", pos_ + offset_);
                unsigned code = 0;
                for (int i = 0; i < 4; ++i) {
                    char h = text_[pos_++];
                    code <<= 4;
                    if (h >= '0' && h <= '9') code |= static_cast<unsigned>(h - '0');
                    else if (h >= 'a' && h <= 'f') code |= static_cast<unsigned>(h - 'a' + 10);
                    else if (h >= 'A' && h <= 'F') code |= static_cast<unsigned>(h - 'A' + 10);
                    else throw FeelError("\\u needs four hex digits", pos_ - 1 + offset_);
                }
                if (code >= 0xD800 && code <= 0xDFFF)
                    throw FeelError("surrogate \\u escapes are not supported", pos_ - 6 + offset_);
                appendUtf8(out, code);
                break;
            }
            default: throw FeelError(std::string("unknown escape '\\") + e + "'", pos_ - 2 + offset_);
            }
        }
    }

    std::string_view text_;
    std::size_t offset_;
    std::size_t pos_ = 0;
};

bool isRefusedKeyword(const std::string& name) {
    static const char* const kKeywords[] = {"if", "then", "else", "for", "return", "some", "every", "satisfies",
                                            "in", "between", "instance", "of", "function"};
    for (const char* keyword : kKeywords)
        if (name == keyword) return true;
    return false;
}

class Parser {
public:
    explicit Parser(std::vector<Token> tokens) : tokens_(std::move(tokens)) {}

    NodePtr parseAll() {
        if (peek().kind == Tok::End) throw FeelError("empty expression", peek().position);
        NodePtr root = parseOr(0);
        if (peek().kind != Tok::End) throw FeelError(unexpected(peek()), peek().position);
        return root;
    }

private:
    const Token& peek() const { return tokens_[index_]; }
    Token take() { return tokens_[index_++]; }

    static std::string unexpected(const Token& token) {
        switch (token.kind) {
        case Tok::End: return "unexpected end of expression";
        case Tok::Name: return "unexpected name '" + token.text + "'";
        case Tok::Number: return "unexpected number " + token.text;
        case Tok::String: return "unexpected string";
        case Tok::LParen: return "unexpected '('";
        case Tok::RParen: return "unexpected ')'";
        case Tok::Dot: return "unexpected '.'";
        case Tok::Op: return "unexpected '" + token.text + "'";
        }
        return "unexpected token";
    }

    static NodePtr binary(Op op, NodePtr left, NodePtr right) {
        auto node = std::make_shared<Node>();
        node->op = op;
        node->left = std::move(left);
        node->right = std::move(right);
        return node;
    }

    void enter(int depth) const {
        if (depth > kMaxDepth)
            throw FeelError("expression nested deeper than " + std::to_string(kMaxDepth) + " levels", peek().position);
    }

    bool isWord(const char* word) const { return peek().kind == Tok::Name && peek().text == word; }

    NodePtr parseOr(int depth) {
        enter(depth);
        NodePtr left = parseAnd(depth + 1);
        while (isWord("or")) {
            take();
            left = binary(Op::Or, left, parseAnd(depth + 1));
        }
        return left;
    }

    NodePtr parseAnd(int depth) {
        NodePtr left = parseComparison(depth + 1);
        while (isWord("and")) {
            take();
            left = binary(Op::And, left, parseComparison(depth + 1));
        }
        return left;
    }

    NodePtr parseComparison(int depth) {
        NodePtr left = parseAdditive(depth + 1);
        if (peek().kind == Tok::Op) {
            static const std::pair<const char*, Op> kOps[] = {{"=", Op::Eq}, {"!=", Op::Ne}, {"<", Op::Lt},
                                                              {"<=", Op::Le}, {">", Op::Gt}, {">=", Op::Ge}};
            for (const auto& [text, op] : kOps) {
                if (peek().text == text) {
                    take();
                    NodePtr right = parseAdditive(depth + 1);
                    if (peek().kind == Tok::Op && peek().text != "+" && peek().text != "-" && peek().text != "*" &&
                        peek().text != "/")
                        throw FeelError("chained comparisons are not supported; use 'and'", peek().position);
                    return binary(op, left, right);
                }
            }
        }
        return left;
    }

    NodePtr parseAdditive(int depth) {
        NodePtr left = parseMultiplicative(depth + 1);
        while (peek().kind == Tok::Op && (peek().text == "+" || peek().text == "-")) {
            Op op = take().text == "+" ? Op::Add : Op::Sub;
            left = binary(op, left, parseMultiplicative(depth + 1));
        }
        return left;
    }

    NodePtr parseMultiplicative(int depth) {
        NodePtr left = parseUnary(depth + 1);
        while (peek().kind == Tok::Op && (peek().text == "*" || peek().text == "/")) {
            Op op = take().text == "*" ? Op::Mul : Op::Div;
            left = binary(op, left, parseUnary(depth + 1));
        }
        return left;
    }

    NodePtr parseUnary(int depth) {
        enter(depth);
        if (peek().kind == Tok::Op && peek().text == "-") {
            take();
            auto node = std::make_shared<Node>();
            node->op = Op::Negate;
            node->left = parseUnary(depth + 1);
            return node;
        }
        return parsePrimary(depth + 1);
    }

    NodePtr parsePrimary(int depth) {
        const Token token = take();
        auto node = std::make_shared<Node>();
        switch (token.kind) {
        case Tok::Number:
            node->literal = Value(std::strtod(token.text.c_str(), nullptr));
            return node;
        case Tok::String:
            node->literal = Value(token.text);
            return node;
        case Tok::LParen: {
            NodePtr inner = parseOr(depth + 1);
            if (peek().kind != Tok::RParen) throw FeelError("expected ')'", peek().position);
            take();
            return inner;
        }
        case Tok::Name: {
            if (token.text == "true" || token.text == "false") {
                node->literal = Value(token.text == "true");
                return node;
            }
            if (token.text == "null") return node;
            if (token.text == "not") {
                if (peek().kind != Tok::LParen) throw FeelError("not is written not(...)", peek().position);
                take();
                node->op = Op::Not;
                node->left = parseOr(depth + 1);
                if (peek().kind != Tok::RParen) throw FeelError("not() takes one argument; expected ')'", peek().position);
                take();
                return node;
            }
            if (token.text == "and" || token.text == "or")
                throw FeelError("'" + token.text + "' needs a left operand", token.position);
            if (isRefusedKeyword(token.text))
                throw FeelError("'" + token.text + "' expressions are not supported", token.position);
            node->op = Op::Path;
            node->path.push_back(token.text);
            while (peek().kind == Tok::Dot) {
                take();
                if (peek().kind != Tok::Name) throw FeelError("expected a name after '.'", peek().position);
                node->path.push_back(take().text);
            }
            if (peek().kind == Tok::LParen)
                throw FeelError("function calls ('" + token.text + "(') are not supported, only not()", peek().position);
            if (peek().kind == Tok::Name && !isWord("and") && !isWord("or")) {
                if (isRefusedKeyword(peek().text))
                    throw FeelError("'" + peek().text + "' expressions are not supported", peek().position);
                throw FeelError("unexpected name '" + peek().text + "' (names with spaces are not supported)",
                                peek().position);
            }
            return node;
        }
        default: throw FeelError(unexpected(token), token.position);
        }
    }

    std::vector<Token> tokens_;
    std::size_t index_ = 0;
};

Value evaluateNode(const Node& node, const Value& variables) {
    switch (node.op) {
    case Op::Literal: return node.literal;
    case Op::Path: {
        const Value* current = &variables;
        for (const auto& name : node.path) {
            current = &current->member(name);
            if (current->isNull()) break;
        }
        return *current;
    }
    case Op::Not: {
        Value inner = evaluateNode(*node.left, variables);
        return inner.isBoolean() ? Value(!inner.asBoolean()) : Value();
    }
    case Op::Negate: {
        Value inner = evaluateNode(*node.left, variables);
        return inner.isNumber() ? Value(-inner.asNumber()) : Value();
    }
    case Op::And: {
        Value left = evaluateNode(*node.left, variables);
        if (left.isBoolean() && !left.asBoolean()) return Value(false);
        Value right = evaluateNode(*node.right, variables);
        if (right.isBoolean() && !right.asBoolean()) return Value(false);
        if (left.isBoolean() && right.isBoolean()) return Value(true);
        return Value();
    }
    case Op::Or: {
        Value left = evaluateNode(*node.left, variables);
        if (left.isBoolean() && left.asBoolean()) return Value(true);
        Value right = evaluateNode(*node.right, variables);
        if (right.isBoolean() && right.asBoolean()) return Value(true);
        if (left.isBoolean() && right.isBoolean()) return Value(false);
        return Value();
    }
    default: break;
    }
    const Value left = evaluateNode(*node.left, variables);
    const Value right = evaluateNode(*node.right, variables);
    switch (node.op) {
    case Op::Eq:
    case Op::Ne: {
        if (left.isNull() || right.isNull()) {
            bool same = left.isNull() && right.isNull();
            return Value(node.op == Op::Eq ? same : !same);
        }
        if (left.type() != right.type()) return Value();
        bool same = left == right;
        return Value(node.op == Op::Eq ? same : !same);
    }
    case Op::Lt:
    case Op::Le:
    case Op::Gt:
    case Op::Ge: {
        int order = 0;
        if (left.isNumber() && right.isNumber())
            order = left.asNumber() < right.asNumber() ? -1 : (left.asNumber() > right.asNumber() ? 1 : 0);
        else if (left.isString() && right.isString())
            order = left.asString().compare(right.asString()) < 0 ? -1 : (left.asString() == right.asString() ? 0 : 1);
        else
            return Value();
        switch (node.op) {
        case Op::Lt: return Value(order < 0);
        case Op::Le: return Value(order <= 0);
        case Op::Gt: return Value(order > 0);
        default: return Value(order >= 0);
        }
    }
    case Op::Add:
        if (left.isString() && right.isString()) return Value(left.asString() + right.asString());
        [[fallthrough]];
    case Op::Sub:
    case Op::Mul:
    case Op::Div: {
        if (!left.isNumber() || !right.isNumber()) return Value();
        const double a = left.asNumber(), b = right.asNumber();
        double result = 0;
        switch (node.op) {
        case Op::Add: result = a + b; break;
        case Op::Sub: result = a - b; break;
        case Op::Mul: result = a * b; break;
        default:
            if (b == 0) return Value();
            result = a / b;
        }
        return std::isfinite(result) ? Value(result) : Value();
    }
    default: return Value();
    }
}

}  // namespace
}  // namespace feel

Expression Expression::compile(std::string_view text, bool literalAllowed) {
    if (text.size() > feel::kMaxLength)
        throw FeelError("expression longer than " + std::to_string(feel::kMaxLength) + " bytes", feel::kMaxLength);
    Expression expression;
    expression.text_ = std::string(text);
    std::size_t start = 0;
    while (start < text.size() && (text[start] == ' ' || text[start] == '\n' || text[start] == '\t' ||
                                   text[start] == '\r'))
        ++start;
    if (start >= text.size() || text[start] != '=') {
        if (!literalAllowed) throw FeelError("an expression starts with '='", start);
        auto node = std::make_shared<feel::Node>();
        node->literal = Value(std::string(text));
        expression.root_ = std::move(node);
        return expression;
    }
    feel::Lexer lexer(text.substr(start + 1), start + 1);
    feel::Parser parser(lexer.run());
    expression.root_ = parser.parseAll();
    return expression;
}

Value Expression::evaluate(const Value& variables) const {
    if (!root_) return Value();
    return feel::evaluateNode(*root_, variables);
}

}  // namespace hub::flows::engine
