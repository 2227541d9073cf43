#pragma once
// Reading the HR system's nightly CSV export: its bytes' SHA-256 and encoding
// (one pass), then its records, decoded to UTF-8 and parsed by libcsv (RFC 4180:
// quoted fields with commas, doubled quotes and line breaks), each with the
// physical line it starts on. Memory stays bounded whatever the file holds: the
// file is read in 64 KiB blocks and libcsv's field buffer is capped.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

namespace hr {

enum class Encoding { Utf8, Gb18030 };

const char* toString(Encoding e);

/// The whole file cannot be used (unreadable, not in its encoding, a field
/// beyond the cap): what() names the line.
class ExportError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

/// What one read of the bytes tells.
struct FileFacts {
    std::string sha256;  ///< hex
    std::uintmax_t size = 0;
    bool utf8Bom = false;
    bool validUtf8 = false;  ///< the bytes after any BOM are UTF-8
};

/// Reads the file once. Throws ExportError when it cannot be read.
FileFacts examine(const std::string& path);

/// The encoding to decode with: "utf-8" and "gbk"/"gb18030" as configured; "auto":
/// UTF-8 when the file has a UTF-8 BOM or is valid UTF-8, else GB18030 (GBK's
/// superset, as iconv names it). Throws ExportError for a BOM in a file declared
/// GBK, or an unknown name.
Encoding chooseEncoding(const std::string& configured, const FileFacts& facts);

/// One record of the file.
struct CsvRecord {
    std::size_t line = 0;  ///< 1-based physical line it starts on
    std::vector<std::string> fields;
    /// Why the record cannot be used as parsed (malformed quoting, an
    /// unterminated quote at the end of the file), else empty.
    std::string error;
};

struct CsvLimits {
    /// A field longer than this rejects the whole file (it is most likely an
    /// unterminated quote swallowing the rest); per-field limits of the data
    /// are the caller's.
    std::size_t maxFieldBytes = 1024 * 1024;
};

/// Decodes and parses the file, calling onRecord for each record in order
/// (blank lines are skipped). A UTF-8 BOM is dropped. Throws ExportError for
/// bytes not valid in the encoding or a field beyond the cap, naming the line;
/// records before it have been passed on already.
void readCsv(const std::string& path, Encoding encoding, const CsvLimits& limits,
             const std::function<void(CsvRecord&)>& onRecord);

}  // namespace hr
