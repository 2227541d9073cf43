#pragma once
// The HR system's (人事系统) nightly export, simulated: what the vendor writes
// into the hub's drop folder and how. The content (a CSV in GBK, UTF-8 with a
// BOM or plain UTF-8; quoted fields with commas and line breaks; rows from a
// seed, bad rows on purpose) and the ways of writing it (renamed in, in place
// in slow chunks, left half-written, a duplicate of an earlier file). Used by
// tests/adapters/HrTest.cpp, the program hub-sim-hr and bench/adapters/hr.sh.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <fstream>
#include <string>
#include <vector>

namespace hub::sim::hr {

enum class Encoding { Gbk, Utf8Bom, Utf8 };

/// "gbk", "utf8-bom", "utf8"; throws std::invalid_argument on anything else.
Encoding encodingNamed(const std::string& name);

/// UTF-8 text in GBK, as the HR system writes it; throws std::runtime_error
/// when the text has a character GBK does not have.
std::string toGbk(const std::string& utf8);
/// UTF-8 text as the vendor writes it in `encoding` (a BOM first for Utf8Bom).
std::string encode(const std::string& utf8, Encoding encoding);

/// Bytes that are neither UTF-8 nor GBK (0xFF leads nothing in either).
inline constexpr const char* kBadBytes = "\xFF\xFF";

/// What to generate: a header and `rows` records for persons T<run>0000000...
/// with Chinese names, statuses, titles (quoted, with a comma) and a staff
/// category spanning two lines, all chosen from `seed`; and faults on purpose.
struct ExportSpec {
    std::size_t rows = 100;
    std::uint32_t seed = 1;
    std::string idPrefix = "T";  ///< each id is the prefix and seven digits
    bool chineseHeader = true;   ///< 工号,姓名,... (else employee_id,name,...)
    std::string lineEnd = "\r\n";
    Encoding encoding = Encoding::Gbk;
    std::size_t wrongColumnsEvery = 0;  ///< every Nth record has a field too few (0: none)
    std::size_t badBytesRecord = 0;     ///< this record (1-based) gets kBadBytes in its name (0: none)
    bool truncateLastRecord = false;    ///< the file ends inside the last record's quoted field
};

/// A generated export and what a reader of it must find.
struct Export {
    std::string bytes;                         ///< as written, in the spec's encoding
    std::string utf8;                          ///< the same text before encoding (without the bad bytes)
    std::size_t records = 0;                   ///< data records, the header not counted
    std::vector<std::size_t> wrongColumnLines;  ///< physical lines (1 = header) of the short records
    std::size_t badBytesLine = 0;              ///< physical line of the bad bytes (0: none)
    std::size_t truncatedLine = 0;             ///< physical line where the cut-off record starts (0: none)
};

Export generate(const ExportSpec& spec);

/// One RFC 4180 field: quoted when it holds a comma, a quote or a line break.
std::string csvField(const std::string& value);

// The ways the vendor puts a file into the drop folder. Each returns the
// file's path in the folder.

/// Written completely under `staging` (a path, by default `<name>.part` in the
/// folder, as a vendor configured with arrival "rename" does), then renamed in.
std::string renameIn(const std::string& dropDir, const std::string& name, const std::string& bytes,
                     const std::string& staging = "");
/// Only the first half: `<name>.part` in the folder, left for a later publish()
/// (or never, when the vendor died before renaming).
std::string stage(const std::string& dropDir, const std::string& name, const std::string& bytes);
/// Renames a staged `<name>.part` in.
std::string publish(const std::string& dropDir, const std::string& name);
/// The content of an earlier export (read from `earlierPath`, wherever the hub
/// moved it) renamed in again under `name`: the vendor's re-run of a night.
std::string duplicate(const std::string& dropDir, const std::string& earlierPath, const std::string& name);
/// Written in place and closed after `fraction` of the bytes: what a vendor that
/// crashed mid-export leaves behind.
std::string halfWritten(const std::string& dropDir, const std::string& name, const std::string& bytes,
                        double fraction = 0.5);

/// A file the vendor writes where it lies, keeping it open: each write() is
/// flushed at once, so a reader sees the file grow; close() ends it.
class InPlaceWriter {
public:
    InPlaceWriter(const std::string& dropDir, const std::string& name);
    InPlaceWriter& write(const std::string& bytes);
    void close();
    const std::string& path() const { return path_; }

private:
    std::string path_;
    std::ofstream out_;
};

/// The slow vendor: `bytes` written in place in `chunk`-byte pieces with `pause`
/// between them, the file open for writing throughout, closed at the end.
std::string writeInPlaceSlowly(const std::string& dropDir, const std::string& name, const std::string& bytes,
                               std::size_t chunk, std::chrono::milliseconds pause);

}  // namespace hub::sim::hr
