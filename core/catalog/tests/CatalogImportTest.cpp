#include "TestSupport.h"
#include "hub/catalog/Catalog.h"
#include "hub/catalog/CatalogImport.h"

#include <gtest/gtest.h>

#include <sys/wait.h>

#include <iconv.h>

#include <filesystem>
#include <fstream>
#include <sstream>

using namespace hub::catalog;
using hub::catalog::test::configDir;
using hub::catalog::test::TempDir;
namespace fs = std::filesystem;

namespace {

const char* kTaxonomy = R"(<?xml version="1.0" encoding="UTF-8"?>
<catalog version="1">
  <category id="general-office" order="1" zh="综合办公" en="General office"/>
  <category id="undergraduate" order="2" zh="本科生服务" en="Undergraduate services"/>
  <department id="archives" zh="档案馆" en="Archives"/>
  <department id="academic-affairs" zh="教务处" en="Academic Affairs Office"/>
  <item id="archive-consultation" category="general-office" department="archives" channel="counter" audience="visitor" timeLimit="3">
    <name zh="档案查阅" en="Archive consultation"/>
    <handler><flow id="archive"/></handler>
  </item>
</catalog>
)";

const std::string kHeader =
    "id,category,department,channel,audience,time_limit,name_zh,name_en,handler,description_zh,description_en,materials\n";

/// A catalogue folder (schema, taxonomy with one item) to import into.
struct Fixture : TempDir {
    Fixture() {
        fs::copy_file(configDir() / "catalog" / "catalog.xsd", path() / "catalog.xsd");
        write("00-taxonomy.xml", kTaxonomy);
    }
    CatalogImport::Result convert(const std::string& csv, CatalogImport::Options options = {}) const {
        CatalogImport import(CatalogImport::readKnown(str()), (path() / "catalog.xsd").string());
        return import.convert(csv, options);
    }
    /// Loads the folder plus `xml` as the hub would.
    std::shared_ptr<const Snapshot> load(const std::string& xml) const {
        write("20-imported.xml", xml);
        return Catalog::load({str(), ""});
    }
};

std::string dump(const CatalogImport::Result& r) {
    std::string out;
    for (const auto& p : r.problems) out += p.toString("in.csv") + "\n";
    return out;
}

bool has(const CatalogImport::Result& r, std::size_t line, const std::string& needle) {
    for (const auto& p : r.problems)
        if (p.line == line && p.message.find(needle) != std::string::npos) return true;
    return false;
}

std::string toGbk(const std::string& utf8) {
    iconv_t cd = iconv_open("GBK", "UTF-8");
    std::string out(utf8.size() * 2 + 16, '\0');
    char* in = const_cast<char*>(utf8.data());
    char* o = out.data();
    std::size_t inLeft = utf8.size(), outLeft = out.size();
    EXPECT_NE(iconv(cd, &in, &inLeft, &o, &outLeft), static_cast<std::size_t>(-1));
    iconv_close(cd);
    out.resize(out.size() - outLeft);
    return out;
}

const std::string kGoodRows =
    // Chinese names for category, department, channel and audience, as the hall exports them.
    "transcript-english,本科生服务,教务处,窗口办理,学生、访客,3,中英文成绩单,Bilingual transcript,flow:counter-default,"
    "\"盖章的中英文成绩单, 一式两份\",\"Stamped, two copies\",\"student-card=学生证=Student ID card;photo?=照片=Photo\"\n"
    // Ids, an instant item, a plugin handler, a quote inside a quoted field.
    "seal-check,general-office,archives,kiosk,student teacher,即办,自助核验,\"Self-service \"\"seal\"\" check\","
    "plugin:student_affairs.get_student,,,\n";

}  // namespace

TEST(CatalogImport, GoodFileBecomesACatalogueTheHubLoads) {
    Fixture f;
    auto r = f.convert(kHeader + kGoodRows);
    ASSERT_TRUE(r.written()) << dump(r);
    EXPECT_TRUE(r.problems.empty());
    EXPECT_EQ(r.rows, 2u);
    EXPECT_EQ(r.itemsWritten, 2u);
    EXPECT_EQ(r.encoding, "UTF-8");

    auto snap = f.load(r.xml);
    const ServiceItem* t = snap->findById("transcript-english");
    ASSERT_NE(t, nullptr);
    EXPECT_EQ(t->categoryId, "undergraduate");
    EXPECT_EQ(t->departmentId, "academic-affairs");
    EXPECT_EQ(t->channel, Channel::Counter);
    EXPECT_EQ(t->timeLimitDays, 3);
    EXPECT_EQ(t->name.zh, "中英文成绩单");
    EXPECT_EQ(t->description.en, "Stamped, two copies");
    ASSERT_EQ(t->materials.size(), 2u);
    EXPECT_TRUE(t->materials[0].required);
    EXPECT_FALSE(t->materials[1].required);
    EXPECT_EQ(t->materials[1].name.en, "Photo");
    EXPECT_EQ(t->handler.flowId, "counter-default");

    const ServiceItem* s = snap->findById("seal-check");
    ASSERT_NE(s, nullptr);
    EXPECT_EQ(s->name.en, "Self-service \"seal\" check");
    EXPECT_EQ(s->channel, Channel::Kiosk);
    EXPECT_EQ(s->timeLimitDays, 0);
    EXPECT_EQ(s->handler.kind, Handler::Kind::Plugin);
    EXPECT_EQ(s->handler.operation, "get_student");
}

TEST(CatalogImport, ByteOrderMarkAndGbkReadTheSame) {
    Fixture f;
    const std::string csv = kHeader + kGoodRows;
    auto plain = f.convert(csv);
    ASSERT_TRUE(plain.written()) << dump(plain);

    auto bom = f.convert("\xEF\xBB\xBF" + csv);
    ASSERT_TRUE(bom.written()) << dump(bom);
    EXPECT_EQ(bom.encoding, "UTF-8 with BOM");
    EXPECT_EQ(bom.xml, plain.xml);

    const std::string gbk = toGbk(csv);
    ASSERT_NE(gbk, csv);
    auto detected = f.convert(gbk);
    ASSERT_TRUE(detected.written()) << dump(detected);
    EXPECT_EQ(detected.encoding, "GBK");
    EXPECT_EQ(detected.xml, plain.xml);

    CatalogImport::Options asGbk;
    asGbk.encoding = CatalogImport::Encoding::Gbk;
    auto told = f.convert(gbk, asGbk);
    ASSERT_TRUE(told.written()) << dump(told);
    EXPECT_EQ(told.xml, plain.xml);

    // Told UTF-8, a GBK file is refused where its first Chinese byte is.
    CatalogImport::Options asUtf8;
    asUtf8.encoding = CatalogImport::Encoding::Utf8;
    auto refused = f.convert(gbk, asUtf8);
    EXPECT_FALSE(refused.written());
    EXPECT_TRUE(has(refused, 2, "not UTF-8: invalid byte")) << dump(refused);
}

TEST(CatalogImport, QuotedLineBreaksAndCrlfKeepLineNumbersRight) {
    Fixture f;
    std::string csv = kHeader +
                      "two-lines,本科生服务,教务处,网上办理,学生,5,两行说明,Two lines,flow:x,\"第一行\r\n第二行\",\"one\r\ntwo\",\r\n"
                      "next-row,本科生服务,教务处,网上办理,学生,5,下一行,Next row,flow:x,,,\r\n"
                      "bad-row,本科生服务,no-such-dept,网上办理,学生,5,坏行,Bad row,flow:x,,,\r\n";
    auto r = f.convert(csv);
    EXPECT_FALSE(r.written());
    ASSERT_EQ(r.problems.size(), 1u) << dump(r);
    EXPECT_EQ(r.problems[0].line, 6u);  // header 1, a record on lines 2-4, then 5 and 6
    EXPECT_EQ(r.problems[0].id, "bad-row");

    CatalogImport::Options skip;
    skip.skipBad = true;
    r = f.convert(csv, skip);
    ASSERT_TRUE(r.written()) << dump(r);
    EXPECT_EQ(r.itemsWritten, 2u);
    auto snap = f.load(r.xml);
    EXPECT_EQ(snap->findById("two-lines")->description.zh, "第一行\n第二行");
    EXPECT_EQ(snap->findById("two-lines")->description.en, "one\ntwo");
    EXPECT_EQ(snap->findById("bad-row"), nullptr);
}

TEST(CatalogImport, EveryBadRowIsRefusedWithItsLineAndReason) {
    Fixture f;
    const std::string ok = ",本科生服务,教务处,网上办理,学生,5,名称,Name,flow:x,,,\n";
    std::string csv = kHeader +
        "good" + ok +                                                               // 2
        "a1,本科生服务,宣传部,网上办理,学生,5,名称,Name,flow:x,,,\n"                 // 3 unknown department
        "a2,no-such-category,教务处,网上办理,学生,5,名称,Name,flow:x,,,\n"          // 4 unknown category
        "a3,本科生服务,教务处,web,学生,5,名称,Name,flow:x,,,\n"                      // 5 bad channel
        "a4,本科生服务,教务处,网上办理,学生,5,,Name,flow:x,,,\n"                     // 6 missing name_zh
        "good" + ok +                                                               // 7 duplicate id
        "a6,本科生服务,教务处,网上办理,学生,三天,名称,Name,flow:x,,,\n"             // 8 bad time limit
        "a7,本科生服务,教务处,网上办理,学生,366,名称,Name,flow:x,,,\n"               // 9 time limit too large
        "a8,本科生服务,教务处,网上办理,校友,5,名称,Name,flow:x,,,\n"                 // 10 bad audience
        "a9,本科生服务,教务处,网上办理,学生,5,名称,Name,approval,,,\n"               // 11 bad handler
        "Bad_Id,本科生服务,教务处,网上办理,学生,5,名称,Name,flow:x,,,\n"             // 12 bad id
        "archive-consultation" + ok +                                               // 13 id already taken
        "a12,本科生服务,教务处,网上办理,学生,5,名称\n"                               // 14 too few fields
        "a13,本科生服务,教务处,网上办理,学生,5,\"两\n行\",Name,flow:x,,,\n"          // 15-16 name on two lines
        "a14,本科生服务,教务处,网上办理,学生,5,名称,Name,flow:x,,,broken-material\n" // 17 bad material
        "a15,本科生服务,教务处,网上办理,学生,5,名\x01称,Name,flow:x,,\xEF\xBF\xBF,\n"  // 18 control character, U+FFFF
        "a16,本科生服务,教务处,网上办理,学生,5,名\"称,Name,flow:x,,,\n"              // 19 stray quote
        "a17,本科生服务,教务处,网上办理,学生,5,\"名称\"x,Name,flow:x,,,\n"          // 20 text after a quote
        ",本科生服务,教务处,网上办理,学生,5,名称,Name,flow:x,,,\n"                   // 21 missing id
        "a19,本科生服务,教务处,网上办理,学生,5,名称," + std::string(201, 'n') + ",flow:x,,,\n"  // 22 name too long
        "\n"                                                                        // 23 blank: ignored
        "a20,本科生服务,教务处,,学生,5,名称,Name,flow:x,,,\n";                       // 24 missing channel
    auto r = f.convert(csv);
    EXPECT_FALSE(r.written());
    EXPECT_EQ(r.itemsWritten, 0u);
    EXPECT_TRUE(has(r, 3, "unknown department '宣传部'")) << dump(r);
    EXPECT_TRUE(has(r, 4, "unknown category 'no-such-category'"));
    EXPECT_TRUE(has(r, 5, "bad channel 'web'"));
    EXPECT_TRUE(has(r, 6, "missing name_zh"));
    EXPECT_TRUE(has(r, 7, "duplicate id 'good' (first on line 2)"));
    EXPECT_TRUE(has(r, 8, "bad time_limit '三天'"));
    EXPECT_TRUE(has(r, 9, "bad time_limit '366'"));
    EXPECT_TRUE(has(r, 10, "unknown audience '校友'"));
    EXPECT_TRUE(has(r, 11, "bad handler 'approval'"));
    EXPECT_TRUE(has(r, 12, "bad id 'Bad_Id'"));
    EXPECT_TRUE(has(r, 13, "id 'archive-consultation' is already in the catalogue"));
    EXPECT_TRUE(has(r, 14, "has 7 fields, the header has 12"));
    EXPECT_TRUE(has(r, 15, "name_zh must be one line"));
    EXPECT_TRUE(has(r, 17, "bad material 'broken-material'"));
    EXPECT_TRUE(has(r, 18, "name_zh holds the control character 0x01"));
    EXPECT_TRUE(has(r, 18, "description_en holds U+FFFF"));
    EXPECT_TRUE(has(r, 19, "a quote inside an unquoted field"));
    EXPECT_TRUE(has(r, 20, "text after a closing quote"));
    EXPECT_TRUE(has(r, 21, "missing id"));
    EXPECT_TRUE(has(r, 22, "name_en is longer than 200 characters"));
    EXPECT_TRUE(has(r, 24, "missing channel"));
    EXPECT_EQ(r.problems.size(), 21u) << dump(r);
    EXPECT_EQ(r.problems[0].toString("hall.csv"), "hall.csv:3: item 'a1': unknown department '宣传部'");

    // --skip-bad: only the good row (its duplicate on line 7 is refused).
    CatalogImport::Options skip;
    skip.skipBad = true;
    auto kept = f.convert(csv, skip);
    ASSERT_TRUE(kept.written()) << dump(kept);
    EXPECT_EQ(kept.itemsWritten, 1u);
    EXPECT_EQ(kept.problems.size(), r.problems.size());
    EXPECT_NE(f.load(kept.xml)->findById("good"), nullptr);
}

TEST(CatalogImport, HeaderProblemsRefuseTheFileEvenWhenSkippingBadRows) {
    Fixture f;
    CatalogImport::Options skip;
    skip.skipBad = true;
    auto r = f.convert("id,category,department,channel,audience,time_limit,name_zh,name_en,handlr\n", skip);
    EXPECT_FALSE(r.written());
    EXPECT_TRUE(has(r, 1, "unknown column 'handlr'")) << dump(r);
    EXPECT_TRUE(has(r, 1, "missing column 'handler'"));
    r = f.convert("", skip);
    EXPECT_TRUE(has(r, 1, "empty")) << dump(r);
    r = f.convert(kHeader + "x,\"never closed\n\n", skip);
    EXPECT_FALSE(r.written());
    EXPECT_TRUE(has(r, 2, "not closed")) << dump(r);
}

TEST(CatalogImport, HostileInputIsRefusedCleanly) {
    Fixture f;
    // Bytes that are neither UTF-8 nor GBK, on line 3.
    auto r = f.convert(kHeader + "ok,本科生服务,教务处,网上办理,学生,5,名称,Name,flow:x,,,\nbad,\xFF\xFF,,,\n");
    EXPECT_FALSE(r.written());
    EXPECT_TRUE(has(r, 3, "neither UTF-8 nor GBK: invalid byte 0xFF")) << dump(r);
    // Told GBK: a lead byte without its second byte, on line 2.
    CatalogImport::Options gbk;
    gbk.encoding = CatalogImport::Encoding::Gbk;
    r = f.convert(kHeader + "x,\x81", gbk);
    EXPECT_TRUE(has(r, 2, "not GBK")) << dump(r);
    // A BOM promises UTF-8: a broken sequence after it is not read as GBK.
    r = f.convert("\xEF\xBB\xBF" + kHeader + "x,\xE4\xB8\n");
    EXPECT_TRUE(has(r, 2, "not UTF-8")) << dump(r);

    // A 1 MiB line: its row is refused, memory stays bounded by the field cap.
    std::string huge = kHeader + "big,本科生服务,教务处,网上办理,学生,5,名称," + std::string(1 << 20, 'x') + ",flow:x,,,\n" +
                       "fine,本科生服务,教务处,网上办理,学生,5,名称,Name,flow:x,,,\n";
    r = f.convert(huge);
    EXPECT_TRUE(has(r, 2, "field 8 is longer than 8192 bytes")) << dump(r);
    EXPECT_EQ(r.problems.size(), 1u);

    // Larger than the cap: refused unread.
    CatalogImport::Options small;
    small.maxBytes = 1000;
    r = f.convert(huge, small);
    EXPECT_TRUE(has(r, 0, "larger than 1000 bytes")) << dump(r);
}

TEST(CatalogImport, HundredThousandRowsAreRefusedFastWithBoundedOutput) {
    Fixture f;
    std::string csv = kHeader;
    for (int i = 0; i < 100000; ++i)
        csv += "item-" + std::to_string(i) + ",本科生服务,教务处,网上办理,学生,5,名称,Name,flow:x,,,\n";
    // Beyond the row cap (the hall has 585 items): one problem, at the first row too many.
    auto r = f.convert(csv);
    EXPECT_FALSE(r.written());
    ASSERT_EQ(r.problems.size(), 1u) << dump(r);
    EXPECT_EQ(r.problems[0].line, 20002u);
    EXPECT_NE(r.problems[0].message.find("more than 20000 rows"), std::string::npos);

    // With the cap raised and every row bad: the first 1,000 problems, the rest counted.
    std::string bad = kHeader;
    for (int i = 0; i < 100000; ++i)
        bad += "item-" + std::to_string(i) + ",本科生服务,宣传部,网上办理,学生,5,名称,Name,flow:x,,,\n";
    CatalogImport::Options wide;
    wide.maxRows = 200000;
    r = f.convert(bad, wide);
    EXPECT_FALSE(r.written());
    EXPECT_EQ(r.rows, 100000u);
    EXPECT_EQ(r.problems.size(), 1000u);
    EXPECT_EQ(r.problemsNotListed, 99000u);
    EXPECT_EQ(r.problems.back().line, 1001u);
}

TEST(CatalogImport, ShippedHallItemsAreTheToolsOutput) {
    // config/catalog/20-hall-items.xml is hall-items.csv run through the
    // import: regenerate it with the tool when the CSV changes.
    const auto dir = configDir() / "catalog";
    const auto output = dir / "20-hall-items.xml";
    std::ifstream csvFile(dir / "import" / "hall-items.csv", std::ios::binary);
    std::stringstream csv;
    csv << csvFile.rdbuf();
    CatalogImport import(CatalogImport::readKnown(dir.string(), output.string()), (dir / "catalog.xsd").string());
    CatalogImport::Options options;
    options.sourceName = "hall-items.csv";
    auto r = import.convert(csv.str(), options);
    ASSERT_TRUE(r.written()) << dump(r);
    EXPECT_GE(r.itemsWritten, 150u);
    std::ifstream committed(output, std::ios::binary);
    std::stringstream text;
    text << committed.rdbuf();
    EXPECT_EQ(text.str(), r.xml) << "run: hub-catalog-import --output config/catalog/20-hall-items.xml "
                                    "config/catalog/import/hall-items.csv";
}

TEST(CatalogImport, ToolWritesNothingWhenARowIsBad) {
    Fixture f;
    const std::string tool = HUB_CATALOG_IMPORT;
    const std::string out = (f.path() / "20-out.xml").string();
    auto run = [&](const std::string& csvName, const std::string& extra) {
        std::string cmd = "'" + tool + "' --catalog '" + f.str() + "' --output '" + out + "' " + extra + " '" +
                          (f.path() / csvName).string() + "' 2>'" + (f.path() / "stderr.txt").string() + "'";
        int status = std::system(cmd.c_str());
        return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    };
    auto stderrText = [&] {
        std::ifstream in(f.path() / "stderr.txt");
        std::stringstream s;
        s << in.rdbuf();
        return s.str();
    };
    f.write("bad.csv", kHeader + kGoodRows + "third,本科生服务,宣传部,网上办理,学生,5,名称,Name,flow:x,,,\n");
    EXPECT_EQ(run("bad.csv", ""), 1);
    EXPECT_FALSE(fs::exists(out));
    EXPECT_NE(stderrText().find("bad.csv:4: item 'third': unknown department '宣传部'"), std::string::npos) << stderrText();

    EXPECT_EQ(run("bad.csv", "--skip-bad"), 0) << stderrText();
    ASSERT_TRUE(fs::exists(out));
    EXPECT_NE(Catalog::load({f.str(), ""})->findById("seal-check"), nullptr);

    // Regenerating the same file: its own items do not count as taken.
    f.write("good.csv", kHeader + kGoodRows);
    EXPECT_EQ(run("good.csv", ""), 0) << stderrText();
    fs::remove(out);
    EXPECT_EQ(run("good.csv", "--check"), 0) << stderrText();
    EXPECT_FALSE(fs::exists(out));
    EXPECT_EQ(run("missing.csv", ""), 2);
    EXPECT_EQ(run("good.csv", "--encoding latin1"), 2);
}
