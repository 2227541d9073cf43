#include "CsvExport.h"

#include <csv.h>
#include <iconv.h>
#include <openssl/evp.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>

namespace hr {

namespace {

constexpr std::size_t kBlock = 64 * 1024;
constexpr std::size_t kMaxFieldsPerRecord = 256;
constexpr std::size_t kMaxRecordBytes = 4 * 1024 * 1024;
constexpr int kRowNotBegun = 0;  // libcsv's pstate before a record's first byte (libcsv.c: ROW_NOT_BEGUN)

// libcsv grows its field buffer through this; refusing beyond the cap bounds the
// memory a hostile file can take (csv_parse then stops with CSV_ENOMEM).
thread_local std::size_t fieldBufferCap = 0;
void* cappedRealloc(void* p, std::size_t size) {
    if (fieldBufferCap && size > fieldBufferCap) return nullptr;
    return std::realloc(p, size);
}

int noSpace(unsigned char) { return 0; }  // keep leading and trailing blanks as the vendor wrote them

struct IconvHandle {
    iconv_t cd;
    explicit IconvHandle(Encoding e) : cd(iconv_open("UTF-8", e == Encoding::Utf8 ? "UTF-8" : "GB18030")) {
        if (cd == reinterpret_cast<iconv_t>(-1)) throw ExportError("iconv cannot convert from " + std::string(toString(e)));
    }
    ~IconvHandle() { iconv_close(cd); }
    IconvHandle(const IconvHandle&) = delete;
    IconvHandle& operator=(const IconvHandle&) = delete;
};

// Feeds decoded UTF-8 to libcsv segment by segment (each ends at a line break),
// so the line a record starts on is known.
class Parse {
public:
    Parse(const CsvLimits& limits, const std::function<void(CsvRecord&)>& onRecord)
        : limits_(limits), onRecord_(onRecord) {
        init();
    }
    ~Parse() { csv_free(&parser_); }
    Parse(const Parse&) = delete;
    Parse& operator=(const Parse&) = delete;

    std::size_t line() const { return line_; }

    void feed(const char* data, std::size_t length) {
        while (length > 0) {
            const char* nl = static_cast<const char*>(std::memchr(data, '\n', length));
            std::size_t segment = nl ? static_cast<std::size_t>(nl - data) + 1 : length;
            if (skipToNewline_) {
                // The rest of a line whose quoting was malformed.
            } else {
                if (parser_.pstate == kRowNotBegun) start_ = line_;
                std::size_t taken = csv_parse(&parser_, data, segment, &Parse::field, &Parse::row, this);
                if (taken != segment) failed();
            }
            if (nl) {
                ++line_;
                skipToNewline_ = false;
            }
            data += segment;
            length -= segment;
        }
    }

    void finish() {
        if (skipToNewline_) return;
        if (csv_fini(&parser_, &Parse::field, &Parse::row, this) != 0) {
            if (csv_error(&parser_) == CSV_ENOMEM) tooLong();
            current_.error = "an unterminated quoted field: the file ends inside it (truncated?)";
            emit();
        }
    }

private:
    void init() {
        if (csv_init(&parser_, CSV_STRICT | CSV_STRICT_FINI) != 0) throw ExportError("libcsv could not start");
        csv_set_space_func(&parser_, &noSpace);
        csv_set_realloc_func(&parser_, &cappedRealloc);
        csv_set_blk_size(&parser_, 4096);  // long fields grow in fewer steps
    }

    void failed() {
        if (csv_error(&parser_) == CSV_ENOMEM) tooLong();
        current_.error = "malformed quoting (RFC 4180): a quote inside an unquoted field, or text after a "
                         "closing quote";
        emit();
        csv_free(&parser_);
        init();
        skipToNewline_ = true;
    }

    [[noreturn]] void tooLong() const {
        throw ExportError("line " + std::to_string(line_) + ": a field longer than " +
                          std::to_string(limits_.maxFieldBytes) + " bytes (an unterminated quote?)");
    }

    void emit() {
        current_.line = start_;
        onRecord_(current_);
        current_ = CsvRecord{};
        recordBytes_ = 0;
    }

    static void field(void* s, std::size_t length, void* self) {
        auto* p = static_cast<Parse*>(self);
        CsvRecord& r = p->current_;
        p->recordBytes_ += length;
        if (!r.error.empty()) return;
        if (r.fields.size() == kMaxFieldsPerRecord) {
            r.error = "more than " + std::to_string(kMaxFieldsPerRecord) + " fields";
            return;
        }
        if (p->recordBytes_ > kMaxRecordBytes) {
            r.error = "a record longer than " + std::to_string(kMaxRecordBytes) + " bytes";
            return;
        }
        r.fields.emplace_back(static_cast<const char*>(s), length);
    }

    static void row(int, void* self) { static_cast<Parse*>(self)->emit(); }

    const CsvLimits& limits_;
    const std::function<void(CsvRecord&)>& onRecord_;
    csv_parser parser_{};
    CsvRecord current_;
    std::size_t recordBytes_ = 0;
    std::size_t line_ = 1;   // of the next byte fed
    std::size_t start_ = 1;  // of the current record
    bool skipToNewline_ = false;
};

}  // namespace

const char* toString(Encoding e) { return e == Encoding::Utf8 ? "UTF-8" : "GB18030"; }

FileFacts examine(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw ExportError("cannot open " + path + ": " + std::strerror(errno));
    FileFacts facts;
    std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> sha(EVP_MD_CTX_new(), &EVP_MD_CTX_free);
    if (!sha || !EVP_DigestInit_ex(sha.get(), EVP_sha256(), nullptr)) throw ExportError("SHA-256 is not available");
    IconvHandle check(Encoding::Utf8);
    std::vector<char> block(kBlock + 8), out(4 * kBlock + 64);
    std::size_t carry = 0;
    bool first = true, valid = true;
    for (;;) {
        in.read(block.data() + carry, static_cast<std::streamsize>(kBlock));
        std::size_t got = static_cast<std::size_t>(in.gcount());
        if (got == 0 && !in.eof()) throw ExportError("cannot read " + path);
        EVP_DigestUpdate(sha.get(), block.data() + carry, got);
        facts.size += got;
        char* from = block.data();
        std::size_t left = carry + got;
        if (first && left >= 3 && std::memcmp(from, "\xEF\xBB\xBF", 3) == 0) {
            facts.utf8Bom = true;
            from += 3;
            left -= 3;
        }
        first = false;
        while (valid && left > 0) {
            char* to = out.data();
            std::size_t room = out.size();
            if (iconv(check.cd, &from, &left, &to, &room) != static_cast<std::size_t>(-1)) break;
            if (errno == E2BIG) continue;
            if (errno == EINVAL && !in.eof()) break;  // a sequence split across blocks: carried over
            valid = false;
        }
        carry = valid ? left : 0;
        if (carry) std::memmove(block.data(), from, carry);
        if (got == 0 || in.eof()) break;
    }
    facts.validUtf8 = valid && carry == 0;
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned length = 0;
    EVP_DigestFinal_ex(sha.get(), digest, &length);
    static constexpr char kHex[] = "0123456789abcdef";
    for (unsigned i = 0; i < length; ++i) {
        facts.sha256 += kHex[digest[i] >> 4];
        facts.sha256 += kHex[digest[i] & 0x0f];
    }
    return facts;
}

Encoding chooseEncoding(const std::string& configured, const FileFacts& facts) {
    if (configured == "utf-8" || configured == "UTF-8") return Encoding::Utf8;
    if (configured == "gbk" || configured == "GBK" || configured == "gb18030" || configured == "GB18030") {
        if (facts.utf8Bom) throw ExportError("the file starts with a UTF-8 BOM but the export is declared GBK");
        return Encoding::Gb18030;
    }
    if (configured != "auto") throw ExportError("encoding '" + configured + "' is none of auto, utf-8, gbk");
    return facts.utf8Bom || facts.validUtf8 ? Encoding::Utf8 : Encoding::Gb18030;
}

void readCsv(const std::string& path, Encoding encoding, const CsvLimits& limits,
             const std::function<void(CsvRecord&)>& onRecord) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw ExportError("cannot open " + path + ": " + std::strerror(errno));
    fieldBufferCap = limits.maxFieldBytes;
    IconvHandle convert(encoding);
    Parse parse(limits, onRecord);
    std::vector<char> block(kBlock + 8), out(4 * kBlock + 64);
    std::size_t carry = 0;
    bool first = true;
    for (;;) {
        in.read(block.data() + carry, static_cast<std::streamsize>(kBlock));
        std::size_t got = static_cast<std::size_t>(in.gcount());
        const bool end = got == 0 || in.eof();
        char* from = block.data();
        std::size_t left = carry + got;
        if (first && encoding == Encoding::Utf8 && left >= 3 && std::memcmp(from, "\xEF\xBB\xBF", 3) == 0) {
            from += 3;
            left -= 3;
        }
        first = false;
        while (left > 0) {
            char* to = out.data();
            std::size_t room = out.size();
            std::size_t rc = iconv(convert.cd, &from, &left, &to, &room);
            const int error = rc == static_cast<std::size_t>(-1) ? errno : 0;
            parse.feed(out.data(), static_cast<std::size_t>(to - out.data()));
            if (!error) break;
            if (error == E2BIG) continue;
            if (error == EINVAL && !end) break;  // a sequence split across blocks: carried over
            throw ExportError("line " + std::to_string(parse.line()) + ": bytes that are not valid " +
                              toString(encoding) + (error == EINVAL ? " (cut off at the end of the file)" : "") +
                              " (declare the export's encoding in hub.xml: encoding)");
        }
        carry = left;
        if (carry) std::memmove(block.data(), from, carry);
        if (end) break;
    }
    parse.finish();
}

}  // namespace hr
