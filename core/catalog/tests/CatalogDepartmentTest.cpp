// A department's own catalogue file (departments/<department>.xml): replaced,
// removed and reloaded on its own, checked against the catalogue in service,
// and read by a full reload under the same rule.
#include "TestSupport.h"
#include "hub/catalog/Catalog.h"
#include "hub/catalog/CatalogException.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

using namespace hub::catalog;
using hub::catalog::test::TempDir;

namespace {

const char* kDepartmentsTaxonomy = R"(<?xml version="1.0" encoding="UTF-8"?>
<catalog version="1">
  <category id="general-office" order="1" zh="综合办公" en="General office"/>
  <department id="archives" zh="档案馆" en="Archives"/>
  <department id="library" zh="图书馆" en="Library"/>
</catalog>
)";

std::string item(const std::string& id, const std::string& department, const std::string& name = "档案查阅",
                 const std::string& handler = R"(<flow id="archive"/>)") {
    return R"(  <item id=")" + id + R"(" category="general-office" department=")" + department +
           R"(" channel="online" audience="student" timeLimit="3">
    <name zh=")" + name + R"(" en="An item"/>
    <handler>)" + handler + R"(</handler>
  </item>
)";
}

std::string catalog(const std::string& body) {
    return "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<catalog version=\"1\">\n" + body + "</catalog>\n";
}

struct DepartmentCatalog : TempDir {
    DepartmentCatalog() {
        std::filesystem::copy_file(test::configDir() / "catalog" / "catalog.xsd", path() / "catalog.xsd");
        write("00-taxonomy.xml", kDepartmentsTaxonomy);
        write("10-items.xml", catalog(item("hub-wide", "archives")));
        std::filesystem::create_directories(path() / "departments");
        write("departments/library.xml", catalog(item("borrow", "library", "借书")));
    }
    std::string read(const std::string& name) const {
        std::ifstream in(path() / name);
        std::stringstream text;
        text << in.rdbuf();
        return text.str();
    }
};

}  // namespace

TEST(CatalogDepartment, AFullLoadReadsTheDepartmentsFilesUnderTheirRule) {
    DepartmentCatalog dir;
    Catalog c({dir.str(), ""});
    ASSERT_NE(c.snapshot()->findById("borrow"), nullptr);
    EXPECT_EQ(c.snapshot()->findById("borrow")->sourceFile, c.departmentFile("library"));

    // Another department's item in the library's file stops a full reload too.
    dir.write("departments/library.xml", catalog(item("borrow", "library") + item("seal", "archives")));
    auto result = c.reload();
    EXPECT_FALSE(result.ok);
    EXPECT_NE(test::errorText(result.errors).find("item 'seal' belongs to department 'archives'"), std::string::npos)
        << test::errorText(result.errors);
    EXPECT_NE(c.snapshot()->findById("borrow"), nullptr) << "the catalogue in service stays";
}

TEST(CatalogDepartment, PutReplacesOnlyThatDepartmentsItems) {
    DepartmentCatalog dir;
    Catalog c({dir.str(), ""});
    // Someone's unfinished edit of a hub-wide file on disk is not published by the department's change.
    dir.write("10-items.xml", catalog(item("hub-wide-edited", "archives")));
    const std::string next = catalog(item("borrow", "library", "借书（新）") + item("return", "library", "还书"));
    auto result = c.putDepartment("library", next);
    ASSERT_TRUE(result.ok) << test::errorText(result.errors);
    auto snap = c.snapshot();
    EXPECT_EQ(snap->version(), 2u);
    EXPECT_EQ(snap->findById("borrow")->name.zh, "借书（新）");
    EXPECT_NE(snap->findById("return"), nullptr);
    EXPECT_NE(snap->findById("hub-wide"), nullptr);
    EXPECT_EQ(snap->findById("hub-wide-edited"), nullptr);
    EXPECT_EQ(dir.read("departments/library.xml"), next) << "written to disk";

    // A full reload sees the same file (and now the hub-wide edit).
    ASSERT_TRUE(c.reload().ok);
    EXPECT_EQ(c.snapshot()->findById("borrow")->name.zh, "借书（新）");
    EXPECT_NE(c.snapshot()->findById("hub-wide-edited"), nullptr);
}

TEST(CatalogDepartment, ANewDepartmentFileIsCreated) {
    DepartmentCatalog dir;
    std::filesystem::remove_all(dir.path() / "departments");
    Catalog c({dir.str(), ""});
    auto result = c.putDepartment("archives", catalog(item("archive-copy", "archives")));
    ASSERT_TRUE(result.ok) << test::errorText(result.errors);
    EXPECT_NE(c.snapshot()->findById("archive-copy"), nullptr);
    EXPECT_TRUE(std::filesystem::exists(dir.path() / "departments" / "archives.xml"));
}

TEST(CatalogDepartment, AnotherDepartmentsItemOrTheTaxonomyIsForeign) {
    DepartmentCatalog dir;
    Catalog c({dir.str(), ""});
    const std::string before = dir.read("departments/library.xml");
    auto result = c.putDepartment("library", catalog(item("seal", "archives")));
    EXPECT_FALSE(result.ok);
    ASSERT_EQ(result.foreign.size(), 1u) << test::errorText(result.errors);
    EXPECT_EQ(result.foreign[0].line, 3);
    EXPECT_NE(result.foreign[0].message.find("belongs to department 'archives'"), std::string::npos);

    result = c.putDepartment("library", catalog(R"(  <department id="secret" zh="秘" en="S"/>
)" + item("borrow", "library")));
    EXPECT_FALSE(result.ok);
    ASSERT_EQ(result.foreign.size(), 1u) << test::errorText(result.errors);
    EXPECT_NE(result.foreign[0].message.find("taxonomy"), std::string::npos);

    // The caller's own check (hubd: another department's plugin).
    result = c.putDepartment("library", catalog(item("pay", "library", "缴费", R"(<plugin system="finance" operation="pay"/>)")),
                             [](const ServiceItem& i) {
                                 return i.handler.system == "finance" ? std::string("plugin finance is finance's")
                                                                      : std::string();
                             });
    EXPECT_FALSE(result.ok);
    ASSERT_EQ(result.foreign.size(), 1u) << test::errorText(result.errors);

    EXPECT_EQ(dir.read("departments/library.xml"), before) << "nothing written";
    EXPECT_EQ(c.snapshot()->version(), 1u);
    EXPECT_NE(c.snapshot()->findById("borrow"), nullptr);
}

TEST(CatalogDepartment, AnInvalidFileKeepsTheOneInService) {
    DepartmentCatalog dir;
    Catalog c({dir.str(), ""});
    const std::string before = dir.read("departments/library.xml");
    for (const std::string& bad : {
             catalog(item("borrow", "library") + item("hub-wide", "library")),  // an id another file has
             catalog(R"(  <item id="x" category="nowhere" department="library" channel="web"/>)"),
             std::string("<catalog version=\"1\"><item"),                         // not well-formed
             std::string("<?xml version=\"1.0\"?>\n<!DOCTYPE c [<!ENTITY x SYSTEM \"file:///etc/passwd\">]>\n"
                         "<catalog version=\"1\">&x;</catalog>"),                 // XXE
             std::string("<catalog version=\"1\">\xff\xfe</catalog>"),            // not UTF-8
             std::string(17 * 1024 * 1024, ' '),                                  // over the parser's limit
         }) {
        auto result = c.putDepartment("library", bad);
        EXPECT_FALSE(result.ok) << bad.substr(0, 80);
        EXPECT_FALSE(result.errors.empty());
        EXPECT_TRUE(result.foreign.empty()) << test::errorText(result.foreign);
    }
    EXPECT_EQ(dir.read("departments/library.xml"), before);
    EXPECT_EQ(c.snapshot()->version(), 1u);
    EXPECT_EQ(c.snapshot()->findById("borrow")->name.zh, "借书");
    EXPECT_FALSE(c.putDepartment("../00-taxonomy", catalog("")).ok) << "a department id, not a path";
}

TEST(CatalogDepartment, RemoveAndReloadFromDisk) {
    DepartmentCatalog dir;
    Catalog c({dir.str(), ""});
    // Edited on disk: the department's reload takes it, checked the same way.
    dir.write("departments/library.xml", catalog(item("borrow", "library", "借阅")));
    auto result = c.reloadDepartment("library");
    ASSERT_TRUE(result.ok) << test::errorText(result.errors);
    EXPECT_EQ(c.snapshot()->findById("borrow")->name.zh, "借阅");
    dir.write("departments/library.xml", catalog(item("seal", "archives")));
    result = c.reloadDepartment("library");
    EXPECT_FALSE(result.ok);
    EXPECT_EQ(result.foreign.size(), 1u);
    EXPECT_EQ(c.snapshot()->findById("borrow")->name.zh, "借阅");

    dir.write("departments/library.xml", catalog(item("borrow", "library")));
    result = c.removeDepartment("library");
    ASSERT_TRUE(result.ok) << test::errorText(result.errors);
    EXPECT_EQ(c.snapshot()->findById("borrow"), nullptr);
    EXPECT_NE(c.snapshot()->findById("hub-wide"), nullptr);
    EXPECT_FALSE(std::filesystem::exists(dir.path() / "departments" / "library.xml"));
    result = c.removeDepartment("library");
    EXPECT_FALSE(result.ok);
    EXPECT_FALSE(result.existed);
}
