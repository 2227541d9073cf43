#pragma once

#include <cstddef>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace hub::catalog {

/// Turns the hall's item list, exported as CSV, into a catalogue file.
///
/// Input: UTF-8 (with or without a byte order mark) or GBK (read as GB18030,
/// its superset, through glibc's iconv), RFC 4180 CSV: comma separated,
/// fields optionally in double quotes, `""` for a quote inside one, commas
/// and line breaks allowed inside quotes, LF or CRLF line ends. The first
/// record is the header; columns are found by name, in any order:
///
/// | column | required | value |
/// |---|---|---|
/// | `id` | yes | item id, `[a-z][a-z0-9_.-]{0,63}`, new to the catalogue |
/// | `category`, `department` | yes | an id, or the Chinese name, from the taxonomy |
/// | `channel` | yes | `online`/`counter`/`kiosk` or 网上办理/窗口办理/自助终端 |
/// | `audience` | yes | `student teacher staff visitor` or 学生/教师/职工/访客, separated by spaces, commas or 、 |
/// | `time_limit` | yes | working days 0-365, or 即办 (0) |
/// | `name_zh`, `name_en` | yes | one line, at most 200 characters |
/// | `handler` | yes | `flow:<flow id>` or `plugin:<system>.<operation>` |
/// | `description_zh`, `description_en` | no | at most 2000 characters |
/// | `materials` | no | `id=中文名=English name` entries separated by `;`, `?` after the id for an optional one |
///
/// Every bad row is reported with the line it starts on and the reason;
/// the result then holds no document unless Options::skipBad is set. The
/// document produced is checked against the catalogue schema before it is
/// returned, so what the tool writes is what the hub loads.
class CatalogImport {
public:
    /// What the rest of the catalogue defines: ids (and Chinese names) of
    /// categories and departments, and the item ids already taken.
    struct Known {
        std::set<std::string> categories;
        std::set<std::string> departments;
        std::map<std::string, std::string> categoryByName;    ///< zh name -> id
        std::map<std::string, std::string> departmentByName;  ///< zh name -> id
        std::set<std::string> itemIds;
    };

    enum class Encoding { Auto, Utf8, Gbk };

    struct Options {
        Encoding encoding = Encoding::Auto;  ///< Auto: UTF-8 when it is valid UTF-8, else GBK.
        bool skipBad = false;                ///< Write the good rows even when some are bad.
        std::string sourceName = "items.csv";  ///< Named in the document's comment.
        std::size_t maxBytes = 32 * 1024 * 1024;  ///< Larger input is refused unread.
        std::size_t maxFieldBytes = 8 * 1024;     ///< A longer field refuses its row.
        std::size_t maxRows = 20000;              ///< The hall has 585 items; more is a mistake.
        std::size_t maxProblems = 1000;           ///< Problems listed; the rest are counted.
    };

    /// One refused row (or, with line 0, the whole input).
    struct Problem {
        std::size_t line = 0;  ///< 1-based line the record starts on; 0: the input as a whole.
        std::string id;        ///< The row's item id when it has one.
        std::string message;
        /// "<source>:<line>: <message>".
        std::string toString(const std::string& source) const;
    };

    struct Result {
        std::string xml;  ///< The catalogue document; empty when refused.
        std::size_t rows = 0;        ///< Data rows read.
        std::size_t itemsWritten = 0;
        std::vector<Problem> problems;
        std::size_t problemsNotListed = 0;  ///< Beyond Options::maxProblems.
        std::string encoding;  ///< What the input was read as: "UTF-8", "UTF-8 with BOM", "GBK".
        /// True when a document was produced (possibly with skipped rows).
        bool written() const { return !xml.empty(); }
    };

    /// Reads categories, departments and item ids from every *.xml file in
    /// `catalogDir` except `excludeFile` (the file being regenerated).
    /// Throws hub::xml::XmlException when a file cannot be parsed.
    static Known readKnown(const std::string& catalogDir, const std::string& excludeFile = "");

    /// `schemaPath`: the catalogue XSD the output must satisfy.
    CatalogImport(Known known, std::string schemaPath);

    /// Converts `csv`; never throws for bad input (that is what problems are for).
    Result convert(std::string_view csv, const Options& options) const;

private:
    Known known_;
    std::string schemaPath_;
};

}  // namespace hub::catalog
