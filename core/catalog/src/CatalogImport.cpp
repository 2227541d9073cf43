#include "hub/catalog/CatalogImport.h"

#include "hub/common/Utf8.h"
#include "hub/xml/Document.h"
#include "hub/xml/Schema.h"

#include <algorithm>
#include <array>
#include <cerrno>
#include <filesystem>
#include <iconv.h>
#include <optional>
#include <stdexcept>

namespace hub::catalog {

namespace {

using Problem = CatalogImport::Problem;

// --- encoding ---------------------------------------------------------------

std::size_t lineAt(std::string_view text, std::size_t offset) {
    return 1 + static_cast<std::size_t>(std::count(text.begin(), text.begin() + static_cast<std::ptrdiff_t>(offset), '\n'));
}

std::optional<std::size_t> firstInvalidUtf8(std::string_view text) {
    for (std::size_t at = 0; at < text.size();) {
        std::size_t n = utf8SequenceLength(text, at);
        if (n == 0) return at;
        at += n;
    }
    return std::nullopt;
}

std::string hexByte(unsigned char c) {
    static const char* digits = "0123456789ABCDEF";
    return std::string("0x") + digits[c >> 4] + digits[c & 15];
}

/// GBK to UTF-8 through glibc's iconv (GB18030 decodes every GBK file).
/// Returns the offset of the first byte iconv refused instead when it fails.
struct GbkResult {
    std::string utf8;
    std::optional<std::size_t> badOffset;
};

GbkResult gbkToUtf8(std::string_view in) {
    iconv_t cd = iconv_open("UTF-8", "GB18030");
    if (cd == reinterpret_cast<iconv_t>(-1)) throw std::runtime_error("iconv cannot convert GB18030 on this system");
    GbkResult result;
    result.utf8.resize(in.size() * 2 + 16);
    char* inPtr = const_cast<char*>(in.data());  // iconv's signature; it does not write the input
    std::size_t inLeft = in.size();
    std::size_t used = 0;
    while (inLeft > 0) {
        char* outPtr = result.utf8.data() + used;
        std::size_t outLeft = result.utf8.size() - used;
        std::size_t rc = iconv(cd, &inPtr, &inLeft, &outPtr, &outLeft);
        used = result.utf8.size() - outLeft;
        if (rc != static_cast<std::size_t>(-1)) break;
        if (errno == E2BIG) {
            result.utf8.resize(result.utf8.size() * 2);
            continue;
        }
        // EILSEQ (not GBK) or EINVAL (a character cut short by the end).
        result.badOffset = static_cast<std::size_t>(inPtr - in.data());
        break;
    }
    iconv_close(cd);
    result.utf8.resize(used);
    return result;
}

// --- CSV ------------------------------------------------------------------

struct Record {
    std::size_t line = 0;
    std::vector<std::string> fields;
    std::string error;   // a syntax problem; the record is refused
    bool fatal = false;  // the rest of the file cannot be read either
};

/// RFC 4180 reader over UTF-8 text, tracking the line each record starts on.
class CsvReader {
public:
    CsvReader(std::string_view text, std::size_t maxField) : text_(text), maxField_(maxField) {}

    bool atEnd() const { return pos_ >= text_.size(); }

    Record next() {
        Record r;
        r.line = line_;
        for (;;) {
            std::string field;
            bool tooLong = false;
            auto append = [&](char c) {
                if (field.size() < maxField_) field += c;
                else tooLong = true;
            };
            if (pos_ < text_.size() && text_[pos_] == '"') {
                ++pos_;
                bool closed = false;
                while (pos_ < text_.size()) {
                    char c = text_[pos_];
                    if (c == '"') {
                        if (pos_ + 1 < text_.size() && text_[pos_ + 1] == '"') {
                            append('"');
                            pos_ += 2;
                            continue;
                        }
                        ++pos_;
                        closed = true;
                        break;
                    }
                    if (c == '\r' && pos_ + 1 < text_.size() && text_[pos_ + 1] == '\n') ++pos_;  // CRLF inside: LF
                    if (c == '\n' || c == '\r') ++line_;
                    append(c == '\r' ? '\n' : c);
                    ++pos_;
                }
                if (!closed) {
                    r.error = "a quoted field is not closed before the end of the file";
                    r.fatal = true;
                    r.fields.push_back(std::move(field));
                    return r;
                }
                if (pos_ < text_.size() && !isSeparator(text_[pos_])) {
                    if (r.error.empty()) r.error = "text after a closing quote (a quote inside a field is written \"\")";
                    while (pos_ < text_.size() && text_[pos_] != '\n' && text_[pos_] != '\r') ++pos_;
                }
            } else {
                while (pos_ < text_.size() && !isSeparator(text_[pos_])) {
                    if (text_[pos_] == '"' && r.error.empty())
                        r.error = "a quote inside an unquoted field (quote the whole field and double the quote)";
                    append(text_[pos_]);
                    ++pos_;
                }
            }
            if (tooLong && r.error.empty())
                r.error = "field " + std::to_string(r.fields.size() + 1) + " is longer than " +
                          std::to_string(maxField_) + " bytes";
            r.fields.push_back(std::move(field));
            if (pos_ < text_.size() && text_[pos_] == ',') {
                ++pos_;
                continue;
            }
            endOfLine();
            return r;
        }
    }

private:
    static bool isSeparator(char c) { return c == ',' || c == '\n' || c == '\r'; }

    void endOfLine() {
        if (pos_ >= text_.size()) return;
        if (text_[pos_] == '\r') ++pos_;
        if (pos_ < text_.size() && text_[pos_] == '\n') ++pos_;
        ++line_;
    }

    std::string_view text_;
    std::size_t maxField_;
    std::size_t pos_ = 0;
    std::size_t line_ = 1;
};

// --- values ---------------------------------------------------------------

std::string trim(const std::string& s) {
    std::size_t b = 0, e = s.size();
    while (b < e && (s[b] == ' ' || s[b] == '\t')) ++b;
    while (e > b && (s[e - 1] == ' ' || s[e - 1] == '\t')) --e;
    return s.substr(b, e - b);
}

std::size_t codePoints(const std::string& s) {
    return static_cast<std::size_t>(std::count_if(s.begin(), s.end(), [](char c) {
        return (static_cast<unsigned char>(c) & 0xC0) != 0x80;
    }));
}

bool isIdChar(char c, bool first) {
    if (c >= 'a' && c <= 'z') return true;
    if (first) return false;
    return (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.';
}

bool isId(const std::string& s) {
    if (s.empty() || s.size() > 64) return false;
    for (std::size_t i = 0; i < s.size(); ++i)
        if (!isIdChar(s[i], i == 0)) return false;
    return true;
}

bool isSymbol(const std::string& s) {
    if (s.empty() || s.size() > 64 || !(s[0] >= 'a' && s[0] <= 'z')) return false;
    return std::all_of(s.begin(), s.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
    });
}

/// A character the catalogue cannot hold, named: a control character (XML 1.0
/// cannot carry most; one-line text takes none), or U+FFFE / U+FFFF, valid
/// UTF-8 that XML refuses. Empty when there is none.
std::string badCharacter(const std::string& s, bool allowNewlines) {
    for (std::size_t i = 0; i < s.size(); ++i) {
        auto c = static_cast<unsigned char>(s[i]);
        if (c == 0x7F || (c < 0x20 && !(allowNewlines && (c == '\n' || c == '\t'))))
            return "the control character " + hexByte(c);
        if (c == 0xEF && s.compare(i + 1, 2, "\xBF\xBE") == 0) return "U+FFFE, which XML cannot carry";
        if (c == 0xEF && s.compare(i + 1, 2, "\xBF\xBF") == 0) return "U+FFFF, which XML cannot carry";
    }
    return {};
}

std::string xmlEscape(const std::string& s) {
    std::string out;
    out.reserve(s.size() + 8);
    for (char c : s) {
        switch (c) {
        case '&': out += "&amp;"; break;
        case '<': out += "&lt;"; break;
        case '>': out += "&gt;"; break;
        case '"': out += "&quot;"; break;
        case '\n': out += "&#10;"; break;  // kept through attribute value normalization
        case '\t': out += "&#9;"; break;
        default: out += c;
        }
    }
    return out;
}

/// Splits on any of the separators (ASCII or multi-byte UTF-8), dropping empty parts.
std::vector<std::string> split(const std::string& s, const std::vector<std::string>& separators) {
    std::vector<std::string> parts;
    std::string current;
    for (std::size_t i = 0; i < s.size();) {
        bool matched = false;
        for (const auto& sep : separators) {
            if (s.compare(i, sep.size(), sep) == 0) {
                if (!trim(current).empty()) parts.push_back(trim(current));
                current.clear();
                i += sep.size();
                matched = true;
                break;
            }
        }
        if (!matched) current += s[i++];
    }
    if (!trim(current).empty()) parts.push_back(trim(current));
    return parts;
}

struct Material {
    std::string id, zh, en;
    bool required = true;
};

struct Row {
    std::string id, category, department, channel, audience, timeLimit;
    std::string nameZh, nameEn, descriptionZh, descriptionEn;
    std::string handlerKind, handlerA, handlerB;  // flow: id; plugin: system, operation
    std::vector<Material> materials;
};

enum Column { Id, Category, Department, Channel, AudienceColumn, TimeLimit, NameZh, NameEn, Handler,
              DescriptionZh, DescriptionEn, Materials, ColumnCount };
const std::array<const char*, ColumnCount> kColumnNames = {
    "id", "category", "department", "channel", "audience", "time_limit", "name_zh", "name_en", "handler",
    "description_zh", "description_en", "materials"};
constexpr int kRequiredColumns = Handler + 1;  // the first nine

class RowChecker {
public:
    RowChecker(const CatalogImport::Known& known, std::vector<Problem>& out) : known_(known), out_(out) {}

    /// Checks one record's fields (already mapped to columns); fills `row`;
    /// returns false when it reported a problem.
    bool check(const std::array<std::string, ColumnCount>& f, Row& row) {
        ok_ = true;
        row.id = f[Id];
        if (row.id.empty()) fail("missing id");
        else if (!isId(row.id)) fail("bad id '" + row.id + "': [a-z][a-z0-9_.-]{0,63}");
        row.category = resolve(f[Category], known_.categories, known_.categoryByName, "category");
        row.department = resolve(f[Department], known_.departments, known_.departmentByName, "department");
        row.channel = channel(f[Channel]);
        row.audience = audience(f[AudienceColumn]);
        row.timeLimit = timeLimit(f[TimeLimit]);
        row.nameZh = name(f[NameZh], "name_zh");
        row.nameEn = name(f[NameEn], "name_en");
        row.descriptionZh = description(f[DescriptionZh], "description_zh");
        row.descriptionEn = description(f[DescriptionEn], "description_en");
        handler(f[Handler], row);
        materials(f[Materials], row);
        return ok_;
    }

    void fail(const std::string& message) {
        ok_ = false;
        out_.push_back({line_, currentId_, message});
    }

    /// The record the next problems belong to.
    void begin(std::size_t line, const std::string& id) {
        line_ = line;
        currentId_ = id;
    }

private:
    std::string resolve(const std::string& value, const std::set<std::string>& ids,
                        const std::map<std::string, std::string>& byName, const std::string& what) {
        if (value.empty()) {
            fail("missing " + what);
            return {};
        }
        if (ids.count(value)) return value;
        if (auto it = byName.find(value); it != byName.end()) return it->second;
        fail("unknown " + what + " '" + value + "'");
        return {};
    }

    std::string channel(const std::string& v) {
        static const std::map<std::string, std::string> names = {
            {"online", "online"}, {"counter", "counter"}, {"kiosk", "kiosk"},
            {"网上办理", "online"}, {"窗口办理", "counter"}, {"自助终端", "kiosk"}};
        if (auto it = names.find(v); it != names.end()) return it->second;
        fail(v.empty() ? "missing channel" : "bad channel '" + v + "': online, counter or kiosk (网上办理, 窗口办理, 自助终端)");
        return {};
    }

    std::string audience(const std::string& v) {
        static const std::map<std::string, std::string> names = {
            {"student", "student"}, {"teacher", "teacher"}, {"staff", "staff"}, {"visitor", "visitor"},
            {"学生", "student"}, {"教师", "teacher"}, {"职工", "staff"}, {"访客", "visitor"}};
        auto tokens = split(v, {" ", ",", ";", "、", "，", "；"});
        if (tokens.empty()) {
            fail("missing audience");
            return {};
        }
        std::vector<std::string> seen;
        for (const auto& t : tokens) {
            auto it = names.find(t);
            if (it == names.end()) {
                fail("unknown audience '" + t + "': student, teacher, staff, visitor (学生, 教师, 职工, 访客)");
                return {};
            }
            if (std::find(seen.begin(), seen.end(), it->second) == seen.end()) seen.push_back(it->second);
        }
        std::string out;
        for (const auto& s : seen) out += (out.empty() ? "" : " ") + s;
        return out;
    }

    std::string timeLimit(const std::string& v) {
        if (v == "即办") return "0";
        bool digits = !v.empty() && v.size() <= 3 && std::all_of(v.begin(), v.end(), [](char c) { return c >= '0' && c <= '9'; });
        if (digits && std::stoi(v) <= 365) return std::to_string(std::stoi(v));
        fail(v.empty() ? "missing time_limit" : "bad time_limit '" + v + "': working days 0-365, or 即办");
        return {};
    }

    std::string name(const std::string& v, const std::string& column) {
        if (v.empty()) {
            fail("missing " + column);
        } else if (v.find('\n') != std::string::npos) {
            fail(column + " must be one line");
        } else if (auto bad = badCharacter(v, false); !bad.empty()) {
            fail(column + " holds " + bad);
        } else if (codePoints(v) > 200) {
            fail(column + " is longer than 200 characters");
        }
        return v;
    }

    std::string description(const std::string& v, const std::string& column) {
        if (auto bad = badCharacter(v, true); !bad.empty()) fail(column + " holds " + bad);
        else if (codePoints(v) > 2000) fail(column + " is longer than 2000 characters");
        return v;
    }

    void handler(const std::string& v, Row& row) {
        auto colon = v.find(':');
        std::string kind = colon == std::string::npos ? "" : v.substr(0, colon);
        std::string rest = colon == std::string::npos ? "" : v.substr(colon + 1);
        if (kind == "flow" && isId(rest)) {
            row.handlerKind = kind;
            row.handlerA = rest;
            return;
        }
        if (kind == "plugin") {
            auto dot = rest.find('.');
            if (dot != std::string::npos && isSymbol(rest.substr(0, dot)) && isSymbol(rest.substr(dot + 1))) {
                row.handlerKind = kind;
                row.handlerA = rest.substr(0, dot);
                row.handlerB = rest.substr(dot + 1);
                return;
            }
        }
        fail(v.empty() ? "missing handler" : "bad handler '" + v + "': flow:<flow id> or plugin:<system>.<operation>");
    }

    void materials(const std::string& v, Row& row) {
        std::set<std::string> ids;
        for (const auto& entry : split(v, {";", "；"})) {
            auto parts = split(entry, {"="});
            if (parts.size() != 3 || entry.find("==") != std::string::npos) {
                fail("bad material '" + entry + "': id=中文名=English name");
                continue;
            }
            Material m;
            m.id = parts[0];
            if (!m.id.empty() && m.id.back() == '?') {
                m.required = false;
                m.id.pop_back();
            }
            m.zh = parts[1];
            m.en = parts[2];
            if (!isId(m.id)) fail("bad material id '" + m.id + "'");
            else if (!ids.insert(m.id).second) fail("material '" + m.id + "' listed twice");
            for (const auto* text : {&m.zh, &m.en})
                if (codePoints(*text) > 200 || text->find('\n') != std::string::npos || !badCharacter(*text, false).empty())
                    fail("material '" + m.id + "': names must be one line of at most 200 characters");
            row.materials.push_back(std::move(m));
        }
        if (row.materials.size() > 50) fail("more than 50 materials");
    }

    const CatalogImport::Known& known_;
    std::vector<Problem>& out_;
    std::size_t line_ = 0;
    bool ok_ = true;
    std::string currentId_;
};

void writeItem(std::string& xml, const Row& r) {
    xml += "  <item id=\"" + r.id + "\" category=\"" + r.category + "\" department=\"" + r.department +
           "\" channel=\"" + r.channel + "\" audience=\"" + r.audience + "\" timeLimit=\"" + r.timeLimit + "\">\n";
    xml += "    <name zh=\"" + xmlEscape(r.nameZh) + "\" en=\"" + xmlEscape(r.nameEn) + "\"/>\n";
    if (!r.descriptionZh.empty() || !r.descriptionEn.empty())
        xml += "    <description zh=\"" + xmlEscape(r.descriptionZh) + "\" en=\"" + xmlEscape(r.descriptionEn) + "\"/>\n";
    if (!r.materials.empty()) {
        xml += "    <materials>\n";
        for (const auto& m : r.materials)
            xml += "      <material id=\"" + m.id + "\" required=\"" + (m.required ? "true" : "false") + "\" zh=\"" +
                   xmlEscape(m.zh) + "\" en=\"" + xmlEscape(m.en) + "\"/>\n";
        xml += "    </materials>\n";
    }
    if (r.handlerKind == "flow")
        xml += "    <handler><flow id=\"" + r.handlerA + "\"/></handler>\n";
    else
        xml += "    <handler><plugin system=\"" + r.handlerA + "\" operation=\"" + r.handlerB + "\"/></handler>\n";
    xml += "  </item>\n";
}

std::string commentSafe(std::string s) {
    // "--" may not appear inside an XML comment.
    for (std::size_t at; (at = s.find("--")) != std::string::npos;) s.replace(at, 2, "- -");
    return s;
}

}  // namespace

std::string CatalogImport::Problem::toString(const std::string& source) const {
    return source + ":" + std::to_string(line) + ": " + (id.empty() ? "" : "item '" + id + "': ") + message;
}

CatalogImport::Known CatalogImport::readKnown(const std::string& catalogDir, const std::string& excludeFile) {
    namespace fs = std::filesystem;
    Known known;
    std::error_code ec;
    fs::path exclude = excludeFile.empty() ? fs::path() : fs::weakly_canonical(excludeFile, ec);
    std::vector<fs::path> files;
    for (const auto& entry : fs::directory_iterator(catalogDir)) {
        if (entry.path().extension() != ".xml" || !entry.is_regular_file()) continue;
        if (!exclude.empty() && fs::weakly_canonical(entry.path(), ec) == exclude) continue;
        files.push_back(entry.path());
    }
    std::sort(files.begin(), files.end());
    for (const auto& file : files) {
        auto doc = hub::xml::Document::parseFile(file.string());
        for (const auto& node : doc.root().children()) {
            std::string id = node.attribute("id", "");
            if (node.name() == "category") {
                known.categories.insert(id);
                known.categoryByName[node.attribute("zh", "")] = id;
            } else if (node.name() == "department") {
                known.departments.insert(id);
                known.departmentByName[node.attribute("zh", "")] = id;
            } else if (node.name() == "item") {
                known.itemIds.insert(id);
            }
        }
    }
    return known;
}

CatalogImport::CatalogImport(Known known, std::string schemaPath)
    : known_(std::move(known)), schemaPath_(std::move(schemaPath)) {}

CatalogImport::Result CatalogImport::convert(std::string_view input, const Options& options) const {
    Result result;
    auto fatal = [&](std::size_t line, std::string message) {
        result.problems.push_back({line, "", std::move(message)});
        return result;
    };
    if (input.size() > options.maxBytes)
        return fatal(0, "the file is larger than " + std::to_string(options.maxBytes) + " bytes");

    // Decode to UTF-8.
    std::string text;
    const bool bom = input.size() >= 3 && input.compare(0, 3, "\xEF\xBB\xBF") == 0;
    if (bom) input.remove_prefix(3);
    auto badUtf8 = firstInvalidUtf8(input);
    if (options.encoding == Encoding::Gbk || (options.encoding == Encoding::Auto && badUtf8 && !bom)) {
        GbkResult gbk = gbkToUtf8(input);
        if (gbk.badOffset) {
            std::size_t at = *gbk.badOffset;
            std::string what = options.encoding == Encoding::Gbk ? "not GBK" : "neither UTF-8 nor GBK";
            // In Auto mode the UTF-8 error is the more useful place to point at.
            if (options.encoding == Encoding::Auto) at = *badUtf8;
            return fatal(lineAt(input, at), what + ": invalid byte " + hexByte(static_cast<unsigned char>(input[at])));
        }
        text = std::move(gbk.utf8);
        result.encoding = "GBK";
    } else {
        if (badUtf8)
            return fatal(lineAt(input, *badUtf8),
                         "not UTF-8: invalid byte " + hexByte(static_cast<unsigned char>(input[*badUtf8])));
        text.assign(input);
        result.encoding = bom ? "UTF-8 with BOM" : "UTF-8";
    }

    CsvReader reader(text, options.maxFieldBytes);
    if (reader.atEnd()) return fatal(1, "the file is empty: a header row is needed");

    // Header.
    Record header = reader.next();
    if (!header.error.empty()) return fatal(header.line, "header: " + header.error);
    std::array<int, ColumnCount> columnAt;
    columnAt.fill(-1);
    for (std::size_t i = 0; i < header.fields.size(); ++i) {
        std::string name = trim(header.fields[i]);
        std::transform(name.begin(), name.end(), name.begin(), [](char c) { return c >= 'A' && c <= 'Z' ? c + 32 : c; });
        auto it = std::find(kColumnNames.begin(), kColumnNames.end(), name);
        if (it == kColumnNames.end()) {
            std::string known;
            for (const char* n : kColumnNames) known += (known.empty() ? "" : ", ") + std::string(n);
            result.problems.push_back({header.line, "", "unknown column '" + name + "' (columns: " + known + ")"});
            continue;
        }
        auto index = static_cast<std::size_t>(it - kColumnNames.begin());
        if (columnAt[index] >= 0) result.problems.push_back({header.line, "", "column '" + name + "' appears twice"});
        columnAt[index] = static_cast<int>(i);
    }
    for (int c = 0; c < kRequiredColumns; ++c)
        if (columnAt[static_cast<std::size_t>(c)] < 0)
            result.problems.push_back({header.line, "", std::string("missing column '") + kColumnNames[static_cast<std::size_t>(c)] + "'"});
    if (!result.problems.empty()) return result;

    // Rows.
    std::vector<Problem> problems;
    RowChecker checker(known_, problems);
    std::map<std::string, std::size_t> firstLine;
    bool refuseAll = false;  // a problem no row can be skipped past
    std::string items;
    while (!reader.atEnd()) {
        Record record = reader.next();
        if (record.fields.size() == 1 && trim(record.fields[0]).empty() && record.error.empty()) continue;  // blank line
        if (++result.rows > options.maxRows) {
            problems.push_back({record.line, "", "more than " + std::to_string(options.maxRows) +
                                                     " rows; the hall's list is far smaller, split the file"});
            refuseAll = true;
            break;
        }
        std::array<std::string, ColumnCount> fields;
        const auto idColumn = static_cast<std::size_t>(columnAt[Id]);
        const std::string id = idColumn < record.fields.size() ? trim(record.fields[idColumn]) : "";
        checker.begin(record.line, isId(id) ? id : "");
        if (record.fatal) {
            problems.push_back({record.line, "", record.error});
            refuseAll = true;
            break;
        }
        if (!record.error.empty()) {
            checker.fail(record.error);
            continue;
        }
        if (record.fields.size() != header.fields.size()) {
            checker.fail("has " + std::to_string(record.fields.size()) + " fields, the header has " +
                         std::to_string(header.fields.size()));
            continue;
        }
        for (std::size_t c = 0; c < ColumnCount; ++c)
            if (columnAt[c] >= 0) fields[c] = trim(record.fields[static_cast<std::size_t>(columnAt[c])]);
        Row row;
        bool ok = checker.check(fields, row);
        if (!row.id.empty() && isId(row.id)) {
            if (known_.itemIds.count(row.id)) {
                checker.fail("id '" + row.id + "' is already in the catalogue");
                ok = false;
            } else if (auto [it, fresh] = firstLine.emplace(row.id, record.line); !fresh) {
                checker.fail("duplicate id '" + row.id + "' (first on line " + std::to_string(it->second) + ")");
                ok = false;
            }
        }
        if (ok) {
            writeItem(items, row);
            ++result.itemsWritten;
        }
    }
    // Keep the list readable: the first problems, and how many more.
    if (problems.size() > options.maxProblems && options.maxProblems > 0) {
        Problem last = problems.back();
        result.problemsNotListed = problems.size() - options.maxProblems;
        problems.resize(options.maxProblems);
        if (refuseAll) problems.back() = std::move(last);  // why nothing can be written stays listed
    }
    result.problems = std::move(problems);
    if (refuseAll || (!result.problems.empty() && !options.skipBad)) {
        result.itemsWritten = 0;
        return result;
    }

    std::string source = std::filesystem::path(options.sourceName).filename().string();
    std::string xml = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<!-- Generated by hub-catalog-import from " +
                      commentSafe(source) + " (" + std::to_string(result.itemsWritten) +
                      " items). Do not edit: change the CSV and import it again (docs/catalog/README.md). -->\n"
                      "<catalog version=\"1\">\n" + items + "</catalog>\n";

    // What the hub will load: the schema has the last word.
    hub::xml::ParseOptions parse;
    parse.maxBytes = xml.size() + 1;
    std::vector<hub::xml::Error> errors;
    try {
        auto doc = hub::xml::Document::parseMemory(xml, source + " (generated)", parse);
        errors = hub::xml::Schema::fromFile(schemaPath_).validate(doc);
    } catch (const hub::xml::XmlException& e) {
        errors = e.errors();
    }
    if (!errors.empty()) {
        result.itemsWritten = 0;
        for (const auto& e : errors) result.problems.push_back({0, "", "generated catalogue fails the schema: " + e.toString()});
        return result;
    }
    result.xml = std::move(xml);
    return result;
}

}  // namespace hub::catalog
