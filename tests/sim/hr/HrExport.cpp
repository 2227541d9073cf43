#include "HrExport.h"

#include <filesystem>
#include <iconv.h>
#include <iterator>
#include <random>
#include <stdexcept>
#include <thread>

namespace fs = std::filesystem;

namespace hub::sim::hr {

namespace {

// Common surnames and given-name characters, all in GBK: the names are data
// like any other, a decoder that mangles them is found by the tests.
const char* const kSurnames[] = {"王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周",
                                 "徐", "孙", "马", "朱", "胡", "郭", "何", "高", "林", "欧阳"};
const char* const kGiven[] = {"伟", "芳", "娜", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳",
                              "杰", "娟", "涛", "明", "超", "霞", "平", "刚", "晓", "婷", "鑫", "秀英"};
const char* const kStatuses[] = {"在职", "休假", "退休", "离职"};
const char* const kTitles[] = {"讲师", "副教授", "教授", "研究员", "助教"};

template <std::size_t N>
const char* pick(std::mt19937& rng, const char* const (&from)[N]) {
    return from[rng() % N];  // not a distribution: the same seed gives the same file everywhere
}

std::string twoDigits(unsigned v) { return (v < 10 ? "0" : "") + std::to_string(v); }

void writeWhole(const std::string& path, const std::string& bytes) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << bytes;
    out.close();
    if (!out) throw std::runtime_error("cannot write " + path);
}

std::string readWhole(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw std::runtime_error("cannot read " + path);
    return std::string(std::istreambuf_iterator<char>(in), {});
}

std::string encodePiece(const std::string& utf8, Encoding encoding) {
    return encoding == Encoding::Gbk ? toGbk(utf8) : utf8;
}

}  // namespace

Encoding encodingNamed(const std::string& name) {
    if (name == "gbk") return Encoding::Gbk;
    if (name == "utf8-bom") return Encoding::Utf8Bom;
    if (name == "utf8") return Encoding::Utf8;
    throw std::invalid_argument("unknown encoding '" + name + "' (gbk, utf8-bom, utf8)");
}

std::string toGbk(const std::string& utf8) {
    iconv_t cd = iconv_open("GBK", "UTF-8");
    if (cd == reinterpret_cast<iconv_t>(-1)) throw std::runtime_error("iconv has no GBK");
    std::string out(utf8.size() * 2 + 16, '\0');
    char* in = const_cast<char*>(utf8.data());
    std::size_t inLeft = utf8.size(), outLeft = out.size();
    char* to = out.data();
    std::size_t rc = iconv(cd, &in, &inLeft, &to, &outLeft);
    iconv_close(cd);
    if (rc == static_cast<std::size_t>(-1)) throw std::runtime_error("not convertible to GBK");
    out.resize(out.size() - outLeft);
    return out;
}

std::string encode(const std::string& utf8, Encoding encoding) {
    return encoding == Encoding::Utf8Bom ? "\xEF\xBB\xBF" + utf8 : encodePiece(utf8, encoding);
}

std::string csvField(const std::string& value) {
    if (value.find_first_of(",\"\r\n") == std::string::npos) return value;
    std::string quoted = "\"";
    for (char c : value) quoted += c == '"' ? std::string("\"\"") : std::string(1, c);
    return quoted + "\"";
}

Export generate(const ExportSpec& spec) {
    Export e;
    std::mt19937 rng(spec.seed);
    const std::string header = spec.chineseHeader ? "工号,姓名,在职状态,职称,入职日期,人员类别"
                                                  : "employee_id,name,employment_status,title,hire_date,staff_category";
    e.utf8 = header + spec.lineEnd;
    e.bytes = encode(e.utf8, spec.encoding);
    std::size_t line = 2;
    for (std::size_t i = 0; i < spec.rows; ++i) {
        std::string id = std::to_string(i);
        id = spec.idPrefix + std::string(id.size() < 7 ? 7 - id.size() : 0, '0') + id;
        std::string name = std::string(pick(rng, kSurnames)) + pick(rng, kGiven) + (rng() % 2 ? pick(rng, kGiven) : "");
        std::string status = pick(rng, kStatuses);
        std::string title = std::string(pick(rng, kTitles)) + ", 第" + std::to_string(rng() % 7) + "级";
        std::string hired = std::to_string(1985 + rng() % 40) + "-" + twoDigits(1 + rng() % 12) + "-" +
                            twoDigits(1 + rng() % 28);
        std::string category = rng() % 2 ? "合同制" + spec.lineEnd + "（长期）" : "事业编制";

        const std::size_t record = i + 1;
        const bool shortRecord = spec.wrongColumnsEvery && record % spec.wrongColumnsEvery == 0;
        const bool last = record == spec.rows;
        std::string head = csvField(id) + "," + csvField(name);  // up to the name: where bad bytes go
        std::string tail = "," + csvField(status) + "," + csvField(title) + "," + csvField(hired);
        if (!shortRecord) tail += "," + csvField(category);
        if (last && spec.truncateLastRecord) {
            // Cut inside the title's quotes, after its first character (3 bytes in UTF-8).
            tail = tail.substr(0, tail.find('"') + 4);
            e.truncatedLine = line;
        } else {
            tail += spec.lineEnd;
        }
        if (shortRecord) e.wrongColumnLines.push_back(line);
        e.utf8 += head + tail;
        e.bytes += encodePiece(head, spec.encoding);
        if (record == spec.badBytesRecord) {
            e.bytes += kBadBytes;
            e.badBytesLine = line;
        }
        e.bytes += encodePiece(tail, spec.encoding);
        for (char c : head + tail) line += c == '\n';
        ++e.records;
    }
    return e;
}

std::string renameIn(const std::string& dropDir, const std::string& name, const std::string& bytes,
                     const std::string& staging) {
    const std::string tmp = staging.empty() ? dropDir + "/" + name + ".part" : staging;
    writeWhole(tmp, bytes);
    const std::string path = dropDir + "/" + name;
    fs::rename(tmp, path);
    return path;
}

std::string stage(const std::string& dropDir, const std::string& name, const std::string& bytes) {
    const std::string part = dropDir + "/" + name + ".part";
    writeWhole(part, bytes);
    return part;
}

std::string publish(const std::string& dropDir, const std::string& name) {
    const std::string path = dropDir + "/" + name;
    fs::rename(path + ".part", path);
    return path;
}

std::string duplicate(const std::string& dropDir, const std::string& earlierPath, const std::string& name) {
    return renameIn(dropDir, name, readWhole(earlierPath));
}

std::string halfWritten(const std::string& dropDir, const std::string& name, const std::string& bytes,
                        double fraction) {
    const std::string path = dropDir + "/" + name;
    writeWhole(path, bytes.substr(0, static_cast<std::size_t>(static_cast<double>(bytes.size()) * fraction)));
    return path;
}

InPlaceWriter::InPlaceWriter(const std::string& dropDir, const std::string& name)
    : path_(dropDir + "/" + name), out_(path_, std::ios::binary | std::ios::trunc) {
    if (!out_) throw std::runtime_error("cannot open " + path_);
}

InPlaceWriter& InPlaceWriter::write(const std::string& bytes) {
    out_ << bytes << std::flush;
    if (!out_) throw std::runtime_error("cannot write " + path_);
    return *this;
}

void InPlaceWriter::close() {
    out_.close();
    if (!out_) throw std::runtime_error("cannot close " + path_);
}

std::string writeInPlaceSlowly(const std::string& dropDir, const std::string& name, const std::string& bytes,
                               std::size_t chunk, std::chrono::milliseconds pause) {
    InPlaceWriter vendor(dropDir, name);
    if (chunk == 0) chunk = bytes.size();
    for (std::size_t at = 0; at < bytes.size(); at += chunk) {
        if (at) std::this_thread::sleep_for(pause);
        vendor.write(bytes.substr(at, chunk));
    }
    vendor.close();
    return vendor.path();
}

}  // namespace hub::sim::hr
