#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace hub::identity::detail {

/// One column of a batch as a PostgreSQL array literal ({"a","b\\"c"}), bound
/// as one text parameter that `?::text[]` and unnest() turn back into rows:
/// a whole batch in one statement and one round trip. Every element quoted,
/// backslash and double quote escaped; the values must not hold NUL (text
/// from the directory and JSON, checked by the callers).
class PostgresArray {
public:
    explicit PostgresArray(std::size_t expectedBytes = 0) {
        text_.reserve(expectedBytes + 2);
        text_ += '{';
    }
    void add(std::string_view v) {
        if (text_.size() > 1) text_ += ',';
        text_ += '"';
        for (char c : v) {
            if (c == '"' || c == '\\') text_ += '\\';
            text_ += c;
        }
        text_ += '"';
    }
    /// The literal; add() no more after it.
    std::string& finish() {
        text_ += '}';
        return text_;
    }

private:
    std::string text_;
};

}  // namespace hub::identity::detail
