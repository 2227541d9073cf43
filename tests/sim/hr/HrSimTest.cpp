// The simulated HR vendor's export writer: what it writes decodes to what it
// meant (GBK checked by decoding it back with iconv), the bad rows are where it
// says, and each way of writing leaves the drop folder as the real vendor does.
#include "HrExport.h"

#include "hub/test/ChildProcess.h"
#include "hub/test/TempDir.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iconv.h>
#include <iterator>
#include <thread>

namespace fs = std::filesystem;
namespace hr = hub::sim::hr;

namespace {

// GBK (or GB18030) to UTF-8 with the C library's iconv; "" and false on a byte it cannot take.
bool fromGbk(const std::string& gbk, std::string& utf8, std::size_t* badAt = nullptr) {
    iconv_t cd = iconv_open("UTF-8", "GBK");
    std::string out(gbk.size() * 2 + 16, '\0');
    char* in = const_cast<char*>(gbk.data());
    std::size_t inLeft = gbk.size(), outLeft = out.size();
    char* to = out.data();
    std::size_t rc = iconv(cd, &in, &inLeft, &to, &outLeft);
    iconv_close(cd);
    if (badAt) *badAt = gbk.size() - inLeft;
    if (rc == static_cast<std::size_t>(-1)) return false;
    out.resize(out.size() - outLeft);
    utf8 = out;
    return true;
}

// RFC 4180 records of a UTF-8 text: each its fields and its first physical line;
// `closed` false when the text ends inside quotes.
struct Record {
    std::vector<std::string> fields;
    std::size_t line;
};
std::vector<Record> parseCsv(const std::string& text, bool& closed) {
    std::vector<Record> records;
    Record cur{{""}, 1};
    std::size_t line = 1;
    bool quoted = false;
    for (std::size_t i = 0; i < text.size(); ++i) {
        char c = text[i];
        if (quoted) {
            if (c == '"' && i + 1 < text.size() && text[i + 1] == '"') cur.fields.back() += text[++i];
            else if (c == '"') quoted = false;
            else cur.fields.back() += c;
            line += c == '\n';
        } else if (c == '"') {
            quoted = true;
        } else if (c == ',') {
            cur.fields.emplace_back();
        } else if (c == '\r' && i + 1 < text.size() && text[i + 1] == '\n') {
        } else if (c == '\n') {
            records.push_back(cur);
            cur = Record{{""}, ++line};
        } else {
            cur.fields.back() += c;
        }
    }
    if (cur.fields.size() > 1 || !cur.fields[0].empty()) records.push_back(cur);
    closed = !quoted;
    return records;
}

std::string readFile(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
}

}  // namespace

TEST(HrSim, ItsGbkDecodesBackWithIconvToTheExportItMeant) {
    hr::ExportSpec spec;
    spec.rows = 500;
    auto gbk = hr::generate(spec);
    std::string decoded;
    ASSERT_TRUE(fromGbk(gbk.bytes, decoded));
    EXPECT_EQ(decoded, gbk.utf8);
    EXPECT_NE(gbk.bytes, gbk.utf8) << "GBK is not UTF-8 for Chinese text";
    EXPECT_EQ(gbk.bytes.find("\xE5\xB7\xA5"), std::string::npos) << "UTF-8 of 工 in the GBK file";
    EXPECT_EQ(decoded.rfind("工号,姓名,在职状态,职称,入职日期,人员类别\r\n", 0), 0u);

    bool closed = false;
    auto records = parseCsv(decoded, closed);
    ASSERT_TRUE(closed);
    ASSERT_EQ(records.size(), 501u);
    EXPECT_EQ(gbk.records, 500u);
    std::size_t multiline = 0;
    for (std::size_t i = 1; i < records.size(); ++i) {
        ASSERT_EQ(records[i].fields.size(), 6u) << "record " << i;
        EXPECT_EQ(records[i].fields[0], "T" + std::string(7 - std::to_string(i - 1).size(), '0') + std::to_string(i - 1));
        EXPECT_GE(records[i].fields[1].size(), 6u) << "a Chinese name of two characters at least";
        EXPECT_NE(records[i].fields[3].find(", 第"), std::string::npos);
        multiline += records[i].fields[5] == "合同制\r\n（长期）";
    }
    EXPECT_GT(multiline, 100u) << "fields with line breaks are normal data";
    EXPECT_LT(multiline, 400u);
}

TEST(HrSim, Utf8WithABomIsTheSameTextAfterTheBom) {
    hr::ExportSpec spec;
    spec.rows = 50;
    spec.encoding = hr::Encoding::Utf8Bom;
    spec.chineseHeader = false;
    spec.lineEnd = "\n";
    auto e = hr::generate(spec);
    ASSERT_EQ(e.bytes.substr(0, 3), "\xEF\xBB\xBF");
    EXPECT_EQ(e.bytes.substr(3), e.utf8);
    EXPECT_EQ(e.utf8.rfind("employee_id,name,employment_status,title,hire_date,staff_category\n", 0), 0u);
    EXPECT_EQ(e.utf8.find('\r'), std::string::npos);
    EXPECT_THROW(hr::toGbk("\xF0\x9F\x98\x80"), std::runtime_error) << "an emoji has no GBK";
    EXPECT_THROW(hr::encodingNamed("latin1"), std::invalid_argument);
}

TEST(HrSim, TheSameSeedWritesTheSameFileAndAnotherSeedOtherNames) {
    hr::ExportSpec spec;
    spec.rows = 100;
    EXPECT_EQ(hr::generate(spec).bytes, hr::generate(spec).bytes);
    auto other = spec;
    other.seed = 2;
    EXPECT_NE(hr::generate(spec).bytes, hr::generate(other).bytes);
}

TEST(HrSim, BadRowsAreWhereItSaysTheyAre) {
    hr::ExportSpec spec;
    spec.rows = 40;
    spec.wrongColumnsEvery = 7;
    spec.badBytesRecord = 12;
    spec.truncateLastRecord = true;
    auto e = hr::generate(spec);

    std::string decoded;
    std::size_t badAt = 0;
    EXPECT_FALSE(fromGbk(e.bytes, decoded, &badAt)) << "the bad bytes are neither GBK";
    EXPECT_EQ(e.bytes.substr(badAt, 2), "\xFF\xFF");
    std::string before;
    ASSERT_TRUE(fromGbk(e.bytes.substr(0, badAt), before));
    std::size_t line = 1;
    for (char c : before) line += c == '\n';
    EXPECT_EQ(line, e.badBytesLine);

    bool closed = true;
    auto records = parseCsv(e.utf8, closed);
    EXPECT_FALSE(closed) << "the last record ends inside quotes";
    ASSERT_EQ(records.size(), 41u);
    std::vector<std::size_t> shortLines;
    for (std::size_t i = 1; i + 1 < records.size(); ++i)
        if (records[i].fields.size() != 6) shortLines.push_back(records[i].line);
    EXPECT_EQ(shortLines, e.wrongColumnLines);
    EXPECT_EQ(e.wrongColumnLines.size(), 5u);  // records 7, 14, 21, 28, 35
    EXPECT_EQ(records.back().line, e.truncatedLine);
    EXPECT_EQ(records.back().fields.size(), 4u) << "cut inside the title";
}

TEST(HrSim, TheWaysOfWritingLeaveTheFolderAsTheVendorDoes) {
    hub::test::TempDir dir("hr-sim");
    const std::string drop = dir.path();
    const std::string bytes = hr::generate(hr::ExportSpec{}).bytes;

    EXPECT_EQ(readFile(hr::renameIn(drop, "a.csv", bytes)), bytes);
    EXPECT_FALSE(fs::exists(drop + "/a.csv.part"));

    const std::string part = hr::stage(drop, "b.csv", bytes);
    EXPECT_TRUE(fs::exists(part));
    EXPECT_FALSE(fs::exists(drop + "/b.csv"));
    EXPECT_EQ(readFile(hr::publish(drop, "b.csv")), bytes);
    EXPECT_FALSE(fs::exists(part));

    EXPECT_EQ(readFile(hr::duplicate(drop, drop + "/a.csv", "c.csv")), bytes);

    const std::string half = hr::halfWritten(drop, "d.csv", bytes);
    EXPECT_EQ(readFile(half), bytes.substr(0, bytes.size() / 2));

    // In place: while the vendor writes, the file is there and grows.
    std::thread vendor([&] { hr::writeInPlaceSlowly(drop, "e.csv", bytes, bytes.size() / 4 + 1, std::chrono::milliseconds(300)); });
    std::this_thread::sleep_for(std::chrono::milliseconds(150));
    const auto early = fs::exists(drop + "/e.csv") ? fs::file_size(drop + "/e.csv") : 0;
    vendor.join();
    EXPECT_GT(early, 0u);
    EXPECT_LT(early, bytes.size());
    EXPECT_EQ(readFile(drop + "/e.csv"), bytes);
}

TEST(HrSim, TheProgramWritesIntoTheDropFolder) {
    hub::test::TempDir dir("hr-sim-exe");
    hub::test::ChildProcess sim(HUB_SIM_HR, {.args = {"--drop", dir.file("drop"), "--name", "staff.csv", "--rows", "30",
                                                      "--seed", "7", "--wrong-columns", "10", "--encoding", "gbk"}});
    ASSERT_EQ(sim.wait(std::chrono::seconds(30)), 0) << sim.output();
    hr::ExportSpec spec;
    spec.rows = 30;
    spec.seed = 7;
    spec.wrongColumnsEvery = 10;
    auto e = hr::generate(spec);
    EXPECT_EQ(readFile(dir.file("drop") + "/staff.csv"), e.bytes);
    EXPECT_FALSE(fs::exists(dir.file("drop") + "/staff.csv.part"));
    EXPECT_NE(sim.output().find("\"records\":30"), std::string::npos) << sim.output();
    EXPECT_NE(sim.output().find("\"wrong_column_lines\":["), std::string::npos) << sim.output();

    hub::test::ChildProcess bad(HUB_SIM_HR, {.args = {"--drop", dir.file("drop"), "--name", "x.csv", "--mode", "sideways"}});
    EXPECT_EQ(bad.wait(std::chrono::seconds(30)), 2);
    EXPECT_NE(bad.output().find("unknown mode"), std::string::npos) << bad.output();
}
