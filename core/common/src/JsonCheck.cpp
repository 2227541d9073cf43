#include "hub/common/JsonCheck.h"

#include "hub/common/Utf8.h"

#include <rapidjson/error/en.h>
#include <rapidjson/memorystream.h>
#include <rapidjson/reader.h>

namespace hub::json {

namespace {

// RapidJSON's SAX reader with a handler that keeps nothing but the depth: no
// allocation per value, about half the time of Poco's parser with an empty
// handler (which still makes a std::string of every key and string).
struct DepthOnly : rapidjson::BaseReaderHandler<rapidjson::UTF8<>, DepthOnly> {
    std::size_t depth = 0;
    bool tooDeep = false;
    bool loneSurrogate = false;
    // The text is valid UTF-8, so a decoded string is not only when a \u escape
    // names half a surrogate pair, which RapidJSON 1.1 lets through for the low half.
    bool String(const char* s, rapidjson::SizeType length, bool) {
        loneSurrogate = !isValidUtf8(std::string_view(s, length));
        return !loneSurrogate;
    }
    bool Key(const char* s, rapidjson::SizeType length, bool copy) { return String(s, length, copy); }
    bool enter() {
        if (++depth <= kMaxDepth) return true;
        tooDeep = true;
        return false;
    }
    bool StartObject() { return enter(); }
    bool StartArray() { return enter(); }
    bool EndObject(rapidjson::SizeType) {
        --depth;
        return true;
    }
    bool EndArray(rapidjson::SizeType) {
        --depth;
        return true;
    }
};

// Iterative: hostile nesting cannot exhaust a thread's (or a fiber's) stack.
// Strict: no comments, trailing commas, NaN or text after the value. Without
// RapidJSON's own UTF-8 check: the whole text is checked before.
constexpr unsigned kFlags = rapidjson::kParseIterativeFlag;

}  // namespace

bool isValidJson(std::string_view text, std::string* error) {
    // The text must be UTF-8 as a whole (RFC 8259 section 8.1), not only inside
    // strings, which is all RapidJSON would check.
    if (!isValidUtf8(text)) {
        if (error) *error = "not valid UTF-8";
        return false;
    }
    // RapidJSON reads a NUL byte as the end of the text, so "{}\0junk" would pass.
    if (auto nul = text.find('\0'); nul != std::string_view::npos) {
        if (error) *error = "a NUL byte (at byte " + std::to_string(nul) + ")";
        return false;
    }
    // One reader per thread keeps its state stack's memory between calls.
    thread_local rapidjson::Reader reader;
    DepthOnly handler;
    rapidjson::MemoryStream in(text.data(), text.size());
    rapidjson::ParseResult result = reader.Parse<kFlags>(in, handler);
    if (!result) {
        if (error) {
            *error = handler.tooDeep         ? "nested deeper than " + std::to_string(kMaxDepth) + " levels"
                     : handler.loneSurrogate ? "a \\u escape names half a surrogate pair"
                                             : rapidjson::GetParseError_En(result.Code());
            *error += " (at byte " + std::to_string(result.Offset()) + ")";
        }
        return false;
    }
    return true;
}

}  // namespace hub::json
