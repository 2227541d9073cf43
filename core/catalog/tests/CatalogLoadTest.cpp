#include "TestSupport.h"
#include "hub/catalog/Catalog.h"
#include "hub/catalog/CatalogException.h"

#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <set>
#include <thread>

using namespace hub::catalog;
using hub::catalog::test::CatalogCopy;
using hub::catalog::test::TempDir;

namespace {

const char* kTaxonomy = R"(<?xml version="1.0" encoding="UTF-8"?>
<catalog version="1">
  <category id="general-office" order="1" zh="综合办公" en="General office"/>
  <department id="archives" zh="档案馆" en="Archives"/>
</catalog>
)";

std::string oneItem(const std::string& id, const std::string& attrs = "channel=\"online\"") {
    return R"(<?xml version="1.0" encoding="UTF-8"?>
<catalog version="1">
  <item id=")" + id + R"(" category="general-office" department="archives" )" + attrs +
           R"( audience="student" timeLimit="3">
    <name zh="档案查阅" en="Archive consultation"/>
    <handler><flow id="archive"/></handler>
  </item>
</catalog>
)";
}

/// A minimal valid catalogue in a temp dir, using the shipped schema.
struct SmallCatalog : TempDir {
    SmallCatalog() {
        std::filesystem::copy_file(test::configDir() / "catalog" / "catalog.xsd", path() / "catalog.xsd");
        write("00-taxonomy.xml", kTaxonomy);
        write("10-items.xml", oneItem("archive-consultation"));
    }
};

std::vector<hub::xml::Error> loadErrors(const std::string& dir) {
    try {
        Catalog::load({dir, ""});
    } catch (const CatalogException& e) {
        return e.errors();
    }
    ADD_FAILURE() << "catalogue in " << dir << " was accepted";
    return {};
}

bool hasError(const std::vector<hub::xml::Error>& errors, const std::string& fileSuffix, int line,
              const std::string& needle) {
    for (const auto& e : errors) {
        bool fileOk = e.file.size() >= fileSuffix.size() &&
                      e.file.compare(e.file.size() - fileSuffix.size(), fileSuffix.size(), fileSuffix) == 0;
        if (fileOk && (line == 0 || e.line == line) && e.message.find(needle) != std::string::npos) {
            return true;
        }
    }
    return false;
}

}  // namespace

TEST(CatalogLoad, ShippedSampleCatalogueIsCompleteAndValid) {
    Catalog catalog({(test::configDir() / "catalog").string(), ""});
    auto snap = catalog.snapshot();
    ASSERT_TRUE(snap);
    EXPECT_GE(snap->items().size(), 200u);  // toward the hall's 585 (issue 14); most from import/hall-items.csv
    EXPECT_EQ(snap->allCategories().size(), 12u);
    EXPECT_EQ(snap->allDepartments().size(), 20u);
    std::set<Channel> channels;
    std::set<std::string> usedCategories, usedDepartments;
    for (const auto& item : snap->items()) {
        channels.insert(item.channel);
        usedCategories.insert(item.categoryId);
        usedDepartments.insert(item.departmentId);
        EXPECT_FALSE(item.name.zh.empty()) << item.id;
        EXPECT_FALSE(item.name.en.empty()) << item.id;
        EXPECT_FALSE(item.audience.empty()) << item.id;
    }
    EXPECT_EQ(channels.size(), 3u);
    EXPECT_EQ(usedCategories.size(), 12u) << "every category has items";
    EXPECT_EQ(usedDepartments.size(), 20u) << "every department owns items";

    const ServiceItem* cert = snap->findById("enrolment-certificate");
    ASSERT_NE(cert, nullptr);
    EXPECT_EQ(cert->handler.kind, Handler::Kind::Flow);  // automatic: config/flows/enrolment-certificate.bpmn
    EXPECT_EQ(cert->handler.flowId, "enrolment-certificate");
    EXPECT_EQ(cert->channel, Channel::Online);
    EXPECT_EQ(cert->name.zh, "在读证明");
    ASSERT_NE(cert->field("student_id"), nullptr);
    EXPECT_TRUE(cert->field("student_id")->required);
    EXPECT_EQ(snap->category("undergraduate")->name.zh, "本科生服务");
    EXPECT_EQ(snap->department("academic-affairs")->name.en, "Academic Affairs Office");
    EXPECT_EQ(snap->version(), 1u);
}

TEST(CatalogLoad, SchemaErrorsNameFileLineAndField) {
    SmallCatalog dir;
    dir.write("20-bad.xml", R"(<?xml version="1.0" encoding="UTF-8"?>
<catalog version="1">
  <item id="bad-channel" category="general-office" department="archives" channel="web" audience="student" timeLimit="3">
    <name zh="甲" en="A"/>
    <handler><flow id="x"/></handler>
  </item>
  <item id="bad-audience" category="general-office" department="archives" channel="online" audience="alumni" timeLimit="-2">
    <name zh="乙" en="B"/>
    <handler><flow id="x"/></handler>
  </item>
  <item id="no-name" category="general-office" department="archives" channel="online" audience="student" timeLimit="1">
    <handler><flow id="x"/></handler>
  </item>
  <item id="Bad Id" category="general-office" department="archives" channel="online" audience="student" timeLimit="1">
    <name zh="丙" en=""/>
    <handler><flow id="x"/></handler>
    <form><field id="f" type="text" zh="字段" en="Field"/></form>
  </item>
</catalog>
)");
    auto errors = loadErrors(dir.str());
    SCOPED_TRACE(test::errorText(errors));
    EXPECT_TRUE(hasError(errors, "20-bad.xml", 3, "attribute 'channel'"));
    EXPECT_TRUE(hasError(errors, "20-bad.xml", 7, "attribute 'audience'"));
    EXPECT_TRUE(hasError(errors, "20-bad.xml", 7, "attribute 'timeLimit'"));
    EXPECT_TRUE(hasError(errors, "20-bad.xml", 12, "handler"));  // <name> missing where <handler> is
    EXPECT_TRUE(hasError(errors, "20-bad.xml", 14, "attribute 'id'"));
    EXPECT_TRUE(hasError(errors, "20-bad.xml", 15, "attribute 'en'"));
    EXPECT_TRUE(hasError(errors, "20-bad.xml", 17, "attribute 'type'"));
}

TEST(CatalogLoad, CrossFileProblemsNameFileLineAndField) {
    SmallCatalog dir;
    dir.write("20-more.xml", R"(<?xml version="1.0" encoding="UTF-8"?>
<catalog version="1">
  <category id="general-office" zh="重复" en="Duplicate"/>
  <item id="archive-consultation" category="general-office" department="archives" channel="online" audience="student" timeLimit="1">
    <name zh="重复事项" en="Duplicate item"/>
    <handler><flow id="x"/></handler>
  </item>
  <item id="orphan" category="no-such-category" department="no-such-dept" channel="online" audience="student" timeLimit="1">
    <name zh="孤儿" en="Orphan"/>
    <handler><flow id="x"/></handler>
    <form>
      <field id="kind" type="enum" zh="类型" en="Kind"/>
      <field id="n" type="integer" maxLength="3" min="5" max="1" zh="数" en="N"/>
      <field id="s" type="string" zh="文" en="S"><option value="a" zh="甲" en="A"/></field>
    </form>
  </item>
</catalog>
)");
    auto errors = loadErrors(dir.str());
    SCOPED_TRACE(test::errorText(errors));
    EXPECT_TRUE(hasError(errors, "20-more.xml", 3, "duplicate category id 'general-office'"));
    EXPECT_TRUE(hasError(errors, "20-more.xml", 3, "00-taxonomy.xml:3"));  // where the first one is
    EXPECT_TRUE(hasError(errors, "20-more.xml", 4, "duplicate item id 'archive-consultation'"));
    EXPECT_TRUE(hasError(errors, "20-more.xml", 8, "attribute 'category': unknown category 'no-such-category'"));
    EXPECT_TRUE(hasError(errors, "20-more.xml", 8, "attribute 'department': unknown department 'no-such-dept'"));
    EXPECT_TRUE(hasError(errors, "20-more.xml", 12, "enum field needs at least one <option>"));
    EXPECT_TRUE(hasError(errors, "20-more.xml", 13, "maxLength applies"));
    EXPECT_TRUE(hasError(errors, "20-more.xml", 13, "min is greater than max"));
    EXPECT_TRUE(hasError(errors, "20-more.xml", 14, "only enum fields"));
}

TEST(CatalogLoad, HostileXmlIsRefused) {
    {
        SmallCatalog dir;
        dir.write("20-xxe.xml", R"(<?xml version="1.0"?>
<!DOCTYPE catalog [ <!ENTITY xxe SYSTEM "file:///etc/passwd"> ]>
<catalog version="1"><department id="x" zh="&xxe;" en="x"/></catalog>)");
        auto errors = loadErrors(dir.str());
        EXPECT_TRUE(hasError(errors, "20-xxe.xml", 0, "DOCTYPE")) << test::errorText(errors);
        for (const auto& e : errors) EXPECT_EQ(e.message.find("root:"), std::string::npos);
    }
    {
        SmallCatalog dir;
        std::string lol = "<?xml version=\"1.0\"?>\n<!DOCTYPE catalog [\n<!ENTITY a \"lollollollollol\">\n";
        for (char c = 'b'; c <= 'j'; ++c) {
            lol += std::string("<!ENTITY ") + c + " \"";
            for (int i = 0; i < 10; ++i) lol += std::string("&") + static_cast<char>(c - 1) + ";";
            lol += "\">\n";
        }
        lol += "]>\n<catalog version=\"1\"><department id=\"x\" zh=\"&j;\" en=\"x\"/></catalog>\n";
        dir.write("20-lol.xml", lol);
        auto errors = loadErrors(dir.str());
        EXPECT_TRUE(hasError(errors, "20-lol.xml", 0, "DOCTYPE")) << test::errorText(errors);
    }
    {
        SmallCatalog dir;
        dir.write("20-latin.xml", "<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?>\n<catalog version=\"1\"/>");
        dir.write("21-bytes.xml", "<?xml version=\"1.0\"?>\n<catalog version=\"1\">\n<department id=\"x\" zh=\"\xE6\x95\" en=\"x\"/></catalog>");
        auto errors = loadErrors(dir.str());
        EXPECT_TRUE(hasError(errors, "20-latin.xml", 0, "ISO-8859-1")) << test::errorText(errors);
        EXPECT_TRUE(hasError(errors, "21-bytes.xml", 0, "UTF-8")) << test::errorText(errors);
    }
}

// Found with the catalog_xml fuzz target (tests/fuzz, seed big-numbers.xml): the
// schema's integer types have no upper bound, and a number past its field threw
// std::out_of_range out of load() (and past reload(), which catches only
// CatalogException).
TEST(CatalogLoad, NumbersTooLargeForTheirFieldAreErrorsInPlace) {
    SmallCatalog dir;
    dir.write("20-big.xml", R"(<?xml version="1.0" encoding="UTF-8"?>
<catalog version="1">
  <category id="extra" order="99999999999" zh="额外" en="Extra"/>
  <item id="big-form" category="general-office" department="archives" channel="online" audience="student" timeLimit="3">
    <name zh="大数" en="Big numbers"/>
    <handler><flow id="x"/></handler>
    <form>
      <field id="note" type="string" maxLength="999999999999999999999999" zh="备注" en="Note"/>
    </form>
  </item>
</catalog>
)");
    auto errors = loadErrors(dir.str());
    SCOPED_TRACE(test::errorText(errors));
    EXPECT_TRUE(hasError(errors, "20-big.xml", 3, "attribute 'order': '99999999999' is out of range"));
    EXPECT_TRUE(hasError(errors, "20-big.xml", 8, "attribute 'maxLength': '999999999999999999999999' is out of range"));
}

// Found with the same target: xs:decimal allows a leading '+' and white space
// around, which the reader took for "no bound".
TEST(CatalogLoad, NumbersInEveryFormTheSchemaAllowsAreRead) {
    SmallCatalog dir;
    dir.write("20-forms.xml", R"(<?xml version="1.0" encoding="UTF-8"?>
<catalog version="1">
  <category id="extra" order=" +7 " zh="额外" en="Extra"/>
  <item id="forms" category="extra" department="archives" channel="online" audience="student" timeLimit="+2">
    <name zh="写法" en="Forms"/>
    <handler><flow id="x"/></handler>
    <form>
      <field id="n" type="number" min="+1.5" max=" 20.25 " zh="数" en="N"/>
      <field id="note" type="string" maxLength="+0030" zh="备注" en="Note"/>
    </form>
  </item>
</catalog>
)");
    auto snapshot = Catalog::load({dir.str(), ""});
    ASSERT_NE(snapshot->category("extra"), nullptr);
    EXPECT_EQ(snapshot->category("extra")->order, 7);
    const ServiceItem* item = snapshot->findById("forms");
    ASSERT_NE(item, nullptr);
    EXPECT_EQ(item->timeLimitDays, 2);
    ASSERT_EQ(item->fields.size(), 2u);
    EXPECT_EQ(item->fields[0].min, 1.5);
    EXPECT_EQ(item->fields[0].max, 20.25);
    EXPECT_EQ(item->fields[1].maxLength, 30u);
}

TEST(CatalogLoad, MissingDirectoryOrSchemaIsAnError) {
    TempDir empty;
    EXPECT_THROW(Catalog::load({empty.str(), ""}), CatalogException);  // no catalog.xsd
    SmallCatalog dir;
    std::filesystem::remove(dir.path() / "00-taxonomy.xml");
    std::filesystem::remove(dir.path() / "10-items.xml");
    auto errors = loadErrors(dir.str());
    EXPECT_TRUE(hasError(errors, "", 0, "no catalogue files")) << test::errorText(errors);
    EXPECT_THROW(Catalog({(empty.path() / "nope").string(), ""}), CatalogException);
}

TEST(CatalogReload, BadReloadKeepsOldSnapshotAndReportsErrors) {
    SmallCatalog dir;
    Catalog catalog({dir.str(), ""});
    auto before = catalog.snapshot();
    ASSERT_EQ(before->items().size(), 1u);

    dir.write("10-items.xml", oneItem("archive-consultation", "channel=\"teleport\""));
    auto result = catalog.reload();
    EXPECT_FALSE(result.ok);
    EXPECT_EQ(result.version, 1u);
    ASSERT_FALSE(result.errors.empty());
    EXPECT_TRUE(hasError(result.errors, "10-items.xml", 3, "channel")) << test::errorText(result.errors);
    EXPECT_EQ(catalog.snapshot().get(), before.get()) << "the old snapshot must stay";

    // A malformed file and a broken schema are refused the same way.
    dir.write("10-items.xml", "<catalog><item");
    EXPECT_FALSE(catalog.reload().ok);
    dir.write("10-items.xml", oneItem("archive-consultation"));
    dir.write("catalog.xsd", "<xs:schema xmlns:xs=\"http://www.w3.org/2001/XMLSchema\"><xs:element name=\"a\" type=\"nope\"/></xs:schema>");
    auto schemaResult = catalog.reload();
    EXPECT_FALSE(schemaResult.ok);
    EXPECT_TRUE(hasError(schemaResult.errors, "catalog.xsd", 0, "nope")) << test::errorText(schemaResult.errors);
    EXPECT_EQ(catalog.snapshot().get(), before.get());

    // A good reload swaps in a new version; holders of the old one keep it intact.
    std::filesystem::copy_file(test::configDir() / "catalog" / "catalog.xsd", dir.path() / "catalog.xsd",
                               std::filesystem::copy_options::overwrite_existing);
    dir.write("11-more.xml", oneItem("second-item"));
    auto ok = catalog.reload();
    EXPECT_TRUE(ok.ok) << test::errorText(ok.errors);
    EXPECT_EQ(ok.version, 2u);
    EXPECT_EQ(catalog.snapshot()->items().size(), 2u);
    EXPECT_EQ(catalog.snapshot()->version(), 2u);
    EXPECT_EQ(before->items().size(), 1u);
    EXPECT_NE(catalog.snapshot()->findById("second-item"), nullptr);
}

TEST(CatalogReload, ReadersNeverSeeAHalfLoadedCatalogue) {
    CatalogCopy dir;
    Catalog catalog({dir.str(), ""});
    const std::size_t fullCount = catalog.snapshot()->items().size();
    std::atomic<bool> stop{false};
    std::atomic<int> bad{0};
    std::atomic<long> reads{0};
    std::vector<std::thread> readers;
    for (int t = 0; t < 3; ++t) {
        readers.emplace_back([&] {
            while (!stop) {
                auto snap = catalog.snapshot();
                Query q;
                q.viewer = AudienceSet::all();
                q.limit = Query::maxLimit;
                auto page = snap->query(q);
                if ((page.total != fullCount && page.total != fullCount + 1) || page.items.size() != page.total) ++bad;
                ++reads;
            }
        });
    }
    for (int i = 0; i < 10; ++i) {
        // Alternate: one item more, then a broken file (refused), then the original.
        dir.write("99-extra.xml", oneItem("zz-extra"));
        EXPECT_TRUE(catalog.reload().ok);
        dir.write("98-broken.xml", "<catalog><item");
        EXPECT_FALSE(catalog.reload().ok);
        std::filesystem::remove(dir.path() / "98-broken.xml");
        std::filesystem::remove(dir.path() / "99-extra.xml");
        EXPECT_TRUE(catalog.reload().ok);
    }
    stop = true;
    for (auto& r : readers) r.join();
    EXPECT_EQ(bad.load(), 0);
    EXPECT_GT(reads.load(), 0);
    EXPECT_EQ(catalog.snapshot()->version(), 21u);
}
