// The HR adapter end to end: a real hubd syncing persons from a private slapd,
// the hr plugin reading CSV exports from a drop folder on disk, every scan
// through hubd's HTTP API (as the hall's operator's manual trigger) or its
// schedule, and what landed read back through the API. The files are written
// as the HR vendor writes them, by its simulator (tests/sim/hr).
#include "AdapterHub.h"
#include "HrExport.h"

#include "hub/ldaptest/DirectoryGenerator.h"
#include "hub/ldaptest/SlapdServer.h"
#include "hub/test/StoreBackend.h"
#include "hub/test/Eventually.h"

#include <gtest/gtest.h>

#include <Poco/JSON/Array.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <future>
#include <iostream>
#include <linux/capability.h>
#include <sys/prctl.h>
#include <unistd.h>
#include <thread>

namespace fs = std::filesystem;
namespace vendor = hub::sim::hr;
using hub::test::HttpResponse;
using hub::test::httpRequest;
using hub::test::TempDir;
using hub::test::waitUntil;
using hub::test::adapters::AdapterHub;
using hub::test::adapters::parse;

namespace {

constexpr std::size_t kPersons = 20;

std::size_t filesIn(const std::string& dir) {
    std::size_t n = 0;
    for (const auto& e : fs::directory_iterator(dir))
        if (e.is_regular_file()) ++n;
    return n;
}

std::string readFile(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
}

class Hr : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        slapd_ = std::make_unique<hub::ldaptest::SlapdServer>(hub::ldaptest::SlapdOptions{});
        hub::ldaptest::DirectoryShape shape;
        shape.persons = kPersons;
        generator_ = std::make_unique<hub::ldaptest::DirectoryGenerator>(shape);
        std::string ldif = slapd_->directory() + "/people.ldif";
        generator_->writeLdifFile(ldif);
        slapd_->slapadd(ldif);
        slapd_->start();
    }
    static void TearDownTestSuite() {
        slapd_.reset();
        generator_.reset();
    }

    // hubd with the hr plugin on dir/drop; `config` adds <config> keys, `more` top-level elements.
    void start(const std::string& config = "<settle_seconds>1</settle_seconds>", const std::string& more = "",
               int timeoutMs = 60000) {
        fs::create_directories(drop());
        AdapterHub::Setup setup;
        setup.plugins = {"hr"};
        setup.pluginsXml = "<plugin name=\"hr\"><timeoutMs>" + std::to_string(timeoutMs) +
                           "</timeoutMs><concurrency>32</concurrency><queue>64</queue>"
                           "<failureThreshold>100000</failureThreshold><config><drop_dir>" + drop() +
                           "</drop_dir>" + config + "</config></plugin>" + pluginsExtra_;
        setup.peopleXml = "<person id=\"admin\" name=\"Hub operator\" audience=\"staff\" roles=\"hub:admin\"/>"
                          "<person id=\"2023010001\" name=\"张三\" audience=\"student\"/>";
        setup.moreXml = more;
        // The directory sync fills the identity store (the hub's other source of persons).
        setup.identityXml = "<ldap><uri>" + slapd_->uri() + "</uri><base>" + slapd_->suffix() + "</base><bindDn>" +
                            slapd_->rootDn() + "</bindDn><passwordFile>" + slapd_->passwordFile() +
                            "</passwordFile></ldap><sync><intervalSeconds>3600</intervalSeconds></sync>";
        hub_ = std::make_unique<AdapterHub>(dir_, setup);
        waitForSync();
    }

    std::string pluginsExtra_;  // more of <plugins>, for a test's own settings

    void waitForSync() {
        // The sync runs at start; asking for one more (409 while the first runs) is harmless.
        httpRequest("POST", hub_->url("/admin/identity/sync?full=1"), "",
                    {{"Authorization", "Bearer " + hub::test::adapters::token("admin")}});
        // Until a run has ended well with none running: the first person alone is
        // not enough, a run commits its persons in several transactions.
        ASSERT_TRUE(waitUntil(
            [&] {
                auto r = httpRequest("GET", hub_->url("/admin/identity/sync"), "",
                                     {{"Authorization", "Bearer " + hub::test::adapters::token("admin")}});
                if (r.status != 200) return false;
                auto state = parse(r.body);
                return !state->getValue<bool>("running") && state->getValue<std::string>("lastStatus") == "ok" &&
                       person(uid(0))->has("name");
            },
            std::chrono::seconds(60), std::chrono::milliseconds(100)))
            << hub_->process().output();
    }

    std::string drop() const { return dir_.file("drop"); }
    static std::string uid(std::size_t i) { return generator_->person(i).uid; }

    Poco::JSON::Object::Ptr person(const std::string& id) {
        auto r = httpRequest("GET", hub_->url("/api/v1/identities/" + id), "",
                             {{"Authorization", "Bearer " + hub::test::adapters::token("admin")}});
        return r.status == 200 ? parse(r.body) : Poco::JSON::Object::Ptr(new Poco::JSON::Object);
    }

    // A person's field another source owns ("" when it has none).
    std::string sourced(const std::string& id, const std::string& field) {
        auto p = person(id);
        auto s = p->getObject("sourced");
        if (!s || !s->has(field)) return "";
        return s->getObject(field)->getValue<std::string>("value");
    }

    HttpResponse scanCall() { return hub_->call("admin", "hr", "scan", "{}", 60000); }

    // Scans until the drop folder's files are all read (each waits out the settle time once).
    Poco::JSON::Array::Ptr scanUntilRead(std::size_t files = 1) {
        Poco::JSON::Array::Ptr all(new Poco::JSON::Array);
        waitUntil(
            [&] {
                auto r = scanCall();
                EXPECT_EQ(r.status, 200) << r.body;
                if (r.status != 200) return true;
                auto got = parse(r.body)->getArray("files");
                for (std::size_t i = 0; i < got->size(); ++i) all->add(got->get(static_cast<unsigned>(i)));
                return all->size() >= files;
            },
            std::chrono::seconds(30), std::chrono::milliseconds(200));
        return all;
    }

    static Poco::JSON::Object::Ptr only(const Poco::JSON::Array::Ptr& files) {
        EXPECT_EQ(files->size(), 1u);
        return files->size() ? files->getObject(0) : Poco::JSON::Object::Ptr(new Poco::JSON::Object);
    }

    // The vendor writes the whole file outside the drop folder and renames it in.
    void dropFile(const std::string& name, const std::string& content) {
        vendor::renameIn(drop(), name, content, dir_.file(name + ".staged"));
    }

    static inline std::unique_ptr<hub::ldaptest::SlapdServer> slapd_;
    static inline std::unique_ptr<hub::ldaptest::DirectoryGenerator> generator_;
    TempDir dir_{"hr-test"};
    std::unique_ptr<AdapterHub> hub_;
};

}  // namespace

// A GBK export with the HR system's Chinese header: the fields HR owns land on
// the directory's persons, the file goes to processed/, nothing is left behind.
TEST_F(Hr, AGbkExportLandsOnThePersonsAndMovesToProcessed) {
    start();
    dropFile("staff-20261206.csv",
             vendor::toGbk("工号,在职状态,职称,入职日期,人员类别\r\n" + uid(1) + ",在职,教授,2001-09-01,事业编制\r\n" + uid(2) +
                   ",退休,副教授,1988/03/15,事业编制\r\n" + uid(3) + ",休假,讲师,2015-07-01,合同制\r\n"));
    auto file = only(scanUntilRead());
    EXPECT_EQ(file->getValue<std::string>("status"), "processed") << file->get("reason").toString();
    EXPECT_EQ(file->getValue<std::string>("encoding"), "GB18030");
    EXPECT_EQ(file->getValue<int>("rows"), 3);
    EXPECT_EQ(file->getValue<int>("applied"), 3);
    EXPECT_EQ(file->getValue<int>("quarantined"), 0);
    EXPECT_EQ(sourced(uid(1), "title"), "教授");
    EXPECT_EQ(sourced(uid(1), "employment_status"), "active");
    EXPECT_EQ(sourced(uid(2), "employment_status"), "retired");
    EXPECT_EQ(sourced(uid(2), "hire_date"), "1988-03-15");
    EXPECT_EQ(sourced(uid(3), "staff_category"), "合同制");
    EXPECT_EQ(person(uid(1))->getObject("sourced")->getObject("title")->getValue<std::string>("source"), "hr");
    EXPECT_EQ(filesIn(drop()), 0u);
    EXPECT_EQ(filesIn(drop() + "/processed"), 1u);
    EXPECT_EQ(filesIn(drop() + "/quarantine"), 0u);
}

// UTF-8 with a BOM, RFC 4180 quoting: commas, doubled quotes and a line break
// inside fields arrive exactly as HR wrote them.
TEST_F(Hr, AUtf8ExportWithABomKeepsQuotedNewlinesAndQuotes) {
    start();
    dropFile("staff.csv", "\xEF\xBB\xBF" "employee_id,title,staff_category\n" + uid(4) +
                              ",\"Professor \"\"Emeritus\"\", Chair\nof Physics\",\"教学科研, 一级\"\n" + uid(5) +
                              ",讲师,\"\"\n");
    auto file = only(scanUntilRead());
    EXPECT_EQ(file->getValue<std::string>("status"), "processed") << file->optValue<std::string>("reason", "");
    EXPECT_EQ(file->getValue<std::string>("encoding"), "UTF-8");
    EXPECT_EQ(file->getValue<int>("rows"), 2);
    EXPECT_EQ(sourced(uid(4), "title"), "Professor \"Emeritus\", Chair\nof Physics");
    EXPECT_EQ(sourced(uid(4), "staff_category"), "教学科研, 一级");
    EXPECT_EQ(sourced(uid(5), "title"), "讲师");
    EXPECT_EQ(sourced(uid(5), "staff_category"), "");  // blank: HR did not fill it
}

// Bad rows go to the quarantine file with their physical line and reason (a
// record spanning two lines counts both); the good rows are applied all the same.
TEST_F(Hr, BadRowsAreQuarantinedWithLineNumbersAndGoodRowsStillApplied) {
    start();
    dropFile("staff.csv", "employee_id,employment_status,hire_date,title\n" +  // line 1
                              uid(6) + ",active,2010-01-01,讲师\n" +             // 2: good
                              uid(7) + ",active,2010-02-30,讲师\n" +             // 3: no such date
                              uid(8) + ",active,2011-01-01,\"two\nlines\"\n" +   // 4-5: good
                              uid(9) + ",fired,2012-01-01,讲师\n" +              // 6: unknown status
                              ",active,2012-01-01,讲师\n" +                      // 7: no id
                              uid(10) + ",active\n" +                            // 8: too few fields
                              uid(6) + ",active,2010-01-01,讲师\n" +             // 9: id again
                              uid(11) + ",on_leave,2013-05-05,副教授\n");        // 10: good
    auto file = only(scanUntilRead());
    EXPECT_EQ(file->getValue<std::string>("status"), "processed") << file->optValue<std::string>("reason", "");
    EXPECT_EQ(file->getValue<int>("rows"), 8);
    EXPECT_EQ(file->getValue<int>("good"), 3);
    EXPECT_EQ(file->getValue<int>("quarantined"), 5);
    auto rows = file->getArray("quarantined_rows");
    std::vector<int> lines;
    for (std::size_t i = 0; i < rows->size(); ++i) lines.push_back(rows->getObject(static_cast<unsigned>(i))->getValue<int>("line"));
    EXPECT_EQ(lines, (std::vector<int>{3, 6, 7, 8, 9}));
    EXPECT_NE(rows->getObject(0)->getValue<std::string>("reason").find("hire_date"), std::string::npos);
    EXPECT_NE(rows->getObject(1)->getValue<std::string>("reason").find("fired"), std::string::npos);
    EXPECT_NE(rows->getObject(3)->getValue<std::string>("reason").find("2 fields, the header has 4"), std::string::npos);
    EXPECT_NE(rows->getObject(4)->getValue<std::string>("reason").find("already on line 2"), std::string::npos);
    std::string quarantine = readFile(file->getValue<std::string>("quarantine_file"));
    EXPECT_NE(quarantine.find("\n6,\"employment_status"), std::string::npos) << quarantine;
    EXPECT_EQ(sourced(uid(8), "title"), "two\nlines");
    EXPECT_EQ(sourced(uid(11), "employment_status"), "on_leave");
    EXPECT_EQ(sourced(uid(7), "title"), "");
    EXPECT_EQ(sourced(uid(9), "title"), "");
}

// A file cut off inside a quoted field: the records before it are applied, the
// unterminated one is quarantined, naming its line.
TEST_F(Hr, ATruncatedExportQuarantinesTheUnterminatedRecord) {
    start();
    dropFile("staff.csv", "employee_id,title\n" + uid(12) + ",讲师\n" + uid(13) + ",\"教授 and then the file en");
    auto file = only(scanUntilRead());
    EXPECT_EQ(file->getValue<std::string>("status"), "processed") << file->optValue<std::string>("reason", "");
    EXPECT_EQ(file->getValue<int>("good"), 1);
    EXPECT_EQ(file->getValue<int>("quarantined"), 1);
    auto row = file->getArray("quarantined_rows")->getObject(0);
    EXPECT_EQ(row->getValue<int>("line"), 3);
    EXPECT_NE(row->getValue<std::string>("reason").find("unterminated"), std::string::npos);
    EXPECT_EQ(sourced(uid(12), "title"), "讲师");
    EXPECT_EQ(sourced(uid(13), "title"), "");
}

// Bytes that are neither UTF-8 nor GBK: the whole file is rejected with the line,
// moved to quarantine/, and nothing of it is applied (its good first row neither).
TEST_F(Hr, AnExportInNoKnownEncodingIsRejectedWholeAndNothingApplied) {
    start();
    dropFile("staff.csv", "employee_id,title\n" + uid(14) + ",讲师\n" + uid(15) + "," + vendor::kBadBytes + "\n");
    auto file = only(scanUntilRead());
    EXPECT_EQ(file->getValue<std::string>("status"), "rejected");
    EXPECT_NE(file->getValue<std::string>("reason").find("line 3"), std::string::npos) << file->getValue<std::string>("reason");
    EXPECT_EQ(sourced(uid(14), "title"), "");
    EXPECT_EQ(filesIn(drop() + "/quarantine"), 1u);
    EXPECT_EQ(filesIn(drop() + "/processed"), 0u);
}

// A night as the simulated vendor writes it (tests/sim/hr): GBK, Chinese names,
// two-line fields, a field short in every 9th record and the file cut off in its
// last; the plugin quarantines exactly the lines the vendor spoiled. Another night
// with bytes in no encoding is rejected, naming the line the vendor put them on.
TEST_F(Hr, ASimulatedNightsBadRowsAreQuarantinedOnTheirLines) {
    start();
    vendor::ExportSpec spec;
    spec.rows = 60;
    spec.seed = 15;
    spec.wrongColumnsEvery = 9;
    spec.truncateLastRecord = true;
    const auto night = vendor::generate(spec);
    dropFile("staff-20261206.csv", night.bytes);
    auto file = only(scanUntilRead());
    EXPECT_EQ(file->getValue<std::string>("status"), "processed") << file->optValue<std::string>("reason", "");
    EXPECT_EQ(file->getValue<std::string>("encoding"), "GB18030");
    std::vector<int> expected(night.wrongColumnLines.begin(), night.wrongColumnLines.end());
    expected.push_back(static_cast<int>(night.truncatedLine));
    auto rows = file->getArray("quarantined_rows");
    std::vector<int> lines;
    for (std::size_t i = 0; i < rows->size(); ++i) lines.push_back(rows->getObject(static_cast<unsigned>(i))->getValue<int>("line"));
    EXPECT_EQ(lines, expected);
    EXPECT_EQ(file->getValue<int>("quarantined"), static_cast<int>(expected.size()));
    EXPECT_EQ(file->getValue<int>("good"), static_cast<int>(night.records - expected.size()));

    spec.seed = 16;
    spec.wrongColumnsEvery = 0;
    spec.truncateLastRecord = false;
    spec.badBytesRecord = 33;
    const auto spoiled = vendor::generate(spec);
    dropFile("staff-20261207.csv", spoiled.bytes);
    auto rejected = only(scanUntilRead());
    EXPECT_EQ(rejected->getValue<std::string>("status"), "rejected");
    EXPECT_NE(rejected->getValue<std::string>("reason").find("line " + std::to_string(spoiled.badBytesLine)),
              std::string::npos)
        << rejected->getValue<std::string>("reason");
}

// The same content again under another name: skipped by its SHA-256 (kept in the
// plugin's key-value store), moved to processed/ all the same, never deleted.
TEST_F(Hr, TheSameContentTwiceIsSkippedByItsHash) {
    start();
    const std::string content = "employee_id,title\n" + uid(16) + ",讲师\n";
    dropFile("monday.csv", content);
    auto first = only(scanUntilRead());
    EXPECT_EQ(first->getValue<std::string>("status"), "processed")
        << first->optValue<std::string>("reason", "") << hub_->process().output();
    const std::string earlier = first->optValue<std::string>("moved_to", "");
    ASSERT_FALSE(earlier.empty()) << "where monday.csv went";
    vendor::duplicate(drop(), earlier, "monday-again.csv");  // the vendor sends that night's file again
    auto again = only(scanUntilRead());
    EXPECT_EQ(again->getValue<std::string>("status"), "duplicate");
    EXPECT_NE(again->getValue<std::string>("reason").find("monday.csv"), std::string::npos);
    EXPECT_EQ(again->getValue<int>("applied"), 0);
    EXPECT_EQ(filesIn(drop() + "/processed"), 2u);
}

// A vendor writing its export in place, slowly: while it has the file open for
// writing, no scan reads it, however long the size stays the same; once it is
// complete and closed (and settled), every row is applied.
TEST_F(Hr, AFileWrittenSlowlyInPlaceIsNotReadUntilComplete) {
    start();
    vendor::InPlaceWriter writer(drop(), "slow.csv");
    writer.write("employee_id,title\n" + uid(17) + ",讲师\n" + uid(18) + ",副教");  // half a row
    for (int scan = 0; scan < 3; ++scan) {
        std::this_thread::sleep_for(std::chrono::milliseconds(700));  // past the 1 s settle time over the scans
        auto r = scanCall();
        ASSERT_EQ(r.status, 200) << r.body;
        auto body = parse(r.body);
        EXPECT_EQ(body->getArray("files")->size(), 0u) << r.body;
        if (scan == 2) {
            ASSERT_EQ(body->getArray("waiting")->size(), 1u) << r.body;
            EXPECT_EQ(body->getArray("waiting")->getObject(0)->getValue<std::string>("why"), "open for writing");
        }
    }
    EXPECT_EQ(sourced(uid(17), "title"), "");  // not a row of the half-written file applied
    writer.write("授\n" + uid(19) + ",教授\n");
    writer.close();
    auto file = only(scanUntilRead());
    EXPECT_EQ(file->getValue<int>("rows"), 3);
    EXPECT_EQ(sourced(uid(18), "title"), "副教授");
    EXPECT_EQ(sourced(uid(19), "title"), "教授");
}

// arrival "rename": the vendor writes x.csv.part and renames it when complete;
// the scan reads it at once (the settle time, an hour here, does not apply).
TEST_F(Hr, ARenamedInExportIsReadAtOnce) {
    start("<arrival>rename</arrival><settle_seconds>3600</settle_seconds>");
    vendor::stage(drop(), "staff.csv", "employee_id,title\n" + uid(1) + ",研究员\n");
    auto r = scanCall();
    ASSERT_EQ(r.status, 200);
    EXPECT_EQ(parse(r.body)->getArray("files")->size(), 0u) << "a .part file is the vendor's, still being written";
    vendor::publish(drop(), "staff.csv");
    r = scanCall();
    ASSERT_EQ(r.status, 200) << r.body;
    auto files = parse(r.body)->getArray("files");
    ASSERT_EQ(files->size(), 1u) << r.body;
    EXPECT_EQ(files->getObject(0)->getValue<std::string>("status"), "processed");
    EXPECT_EQ(sourced(uid(1), "title"), "研究员");
}

// Hostile content: a NUL, a field of 10 000 bytes, 300 fields: each such row is
// quarantined with its reason; the good row still lands. A field beyond 1 MiB (an
// unterminated quote swallowing the file) rejects the file, naming its line.
TEST_F(Hr, HostileContentIsQuarantinedOrRejectedNeverFatal) {
    start();
    dropFile("hostile.csv", "employee_id,title\n" + uid(2) + ",a" + std::string(1, '\0') + "b\n" + uid(3) + "," +
                                std::string(10000, 'x') + "\n" + uid(4) + std::string(300, ',') + "\n" + uid(5) +
                                ",讲师\n");
    auto file = only(scanUntilRead());
    EXPECT_EQ(file->getValue<int>("good"), 1);
    EXPECT_EQ(file->getValue<int>("quarantined"), 3);
    auto rows = file->getArray("quarantined_rows");
    EXPECT_NE(rows->getObject(0)->getValue<std::string>("reason").find("NUL"), std::string::npos);
    EXPECT_NE(rows->getObject(1)->getValue<std::string>("reason").find("10000 bytes"), std::string::npos);
    EXPECT_NE(rows->getObject(2)->getValue<std::string>("reason").find("fields"), std::string::npos);
    EXPECT_EQ(sourced(uid(5), "title"), "讲师");

    dropFile("swallowed.csv", "employee_id,title\n" + uid(6) + ",讲师\n" + uid(7) + ",\"" + std::string(2 << 20, 'y'));
    auto swallowed = only(scanUntilRead());
    EXPECT_EQ(swallowed->getValue<std::string>("status"), "rejected");
    EXPECT_NE(swallowed->getValue<std::string>("reason").find("line 3"), std::string::npos);
    EXPECT_NE(swallowed->getValue<std::string>("reason").find("longer than"), std::string::npos);
    EXPECT_EQ(sourced(uid(6), "title"), "");
    auto health = hub_->call("admin", "hr", "scan", "{}");
    EXPECT_EQ(health.status, 200) << "the plugin still answers";
}

// One source per field: the directory owns the name, HR's differing name is
// reported as a conflict and not applied; HR's own fields on the row are.
TEST_F(Hr, AnLdapOwnedFieldIsNotOverwrittenByHr) {
    start();
    const std::string directoryName = person(uid(8))->getValue<std::string>("name");
    const std::string directoryDepartment = person(uid(8))->getValue<std::string>("department");
    dropFile("staff.csv", "工号,姓名,部门,职称\n" + uid(8) + ",人事改的名字," + directoryDepartment + ",教授\n");
    auto file = only(scanUntilRead());
    std::ostringstream text;
    file->stringify(text);
    EXPECT_EQ(file->getValue<int>("applied"), 1) << text.str() << hub_->process().output();
    EXPECT_EQ(file->getValue<int>("conflicts"), 1);  // the name; the equal department is no conflict
    auto conflict = file->getArray("conflict_samples")->getObject(0);
    EXPECT_EQ(conflict->getValue<std::string>("field"), "name");
    EXPECT_EQ(conflict->getValue<std::string>("owner"), "ldap");
    EXPECT_EQ(conflict->getValue<std::string>("value"), "人事改的名字");
    EXPECT_EQ(conflict->getValue<std::string>("owner_value"), directoryName);
    auto after = person(uid(8));
    EXPECT_EQ(after->getValue<std::string>("name"), directoryName);
    EXPECT_EQ(sourced(uid(8), "title"), "教授");
    EXPECT_FALSE(after->getObject("sourced")->has("name"));
}

// A retry storm of 20 scans at once: one reads the file, the others are told a
// scan is running (409) or find nothing; nothing is read or announced twice.
TEST_F(Hr, ARetryStormOfScansDuplicatesNothing) {
    hub::test::adapters::PortalPeer portal(dir_);
    start("<settle_seconds>1</settle_seconds>", portal.eventsXml());
    dropFile("staff.csv", "employee_id,title\n" + uid(9) + ",讲师\n" + uid(10) + ",教授\n");
    std::this_thread::sleep_for(std::chrono::milliseconds(1100));  // past the settle time, so the storm may read it
    scanCall();  // the first look starts the settle clock
    std::this_thread::sleep_for(std::chrono::milliseconds(1100));
    std::vector<std::future<HttpResponse>> storm;
    for (int i = 0; i < 20; ++i) storm.push_back(std::async(std::launch::async, [&] { return scanCall(); }));
    int read = 0;
    for (auto& f : storm) {
        auto r = f.get();
        ASSERT_TRUE(r.status == 200 || r.status == 409) << r.status << " " << r.body;
        if (r.status == 200) read += static_cast<int>(parse(r.body)->getArray("files")->size());
    }
    read += static_cast<int>(scanUntilRead(0)->size());
    EXPECT_EQ(read, 1);
    EXPECT_EQ(filesIn(drop() + "/processed"), 1u);
    ASSERT_TRUE(waitUntil([&] { return portal.output().find("edu.campus.hub.hr.file_processed") != std::string::npos; },
                          std::chrono::seconds(20)))
        << portal.output();
    std::this_thread::sleep_for(std::chrono::milliseconds(500));  // a second event would be on its way by now
    std::string out = portal.output();
    std::size_t events = 0;
    for (std::size_t at = out.find("hr.file_processed"); at != std::string::npos; at = out.find("hr.file_processed", at + 1))
        ++events;
    EXPECT_EQ(events, 1u) << out;
    EXPECT_NE(out.find("\"rows\":2"), std::string::npos) << out;
}

// hub.xml <schedules>: the hub scans by itself every second, through the plugin's
// normal call path; the portal's users may not trigger a scan.
TEST_F(Hr, TheScheduleScansTheDropFolderByItself) {
    start("<settle_seconds>1</settle_seconds>",
          "<schedules><schedule plugin=\"hr\" operation=\"scan\" everySeconds=\"1\" timeoutMs=\"30000\"/></schedules>");
    dropFile("staff.csv", "employee_id,title\n" + uid(11) + ",研究员\n");
    ASSERT_TRUE(waitUntil([&] { return filesIn(drop() + "/processed") == 1; }, std::chrono::seconds(20)))
        << hub_->process().output();
    EXPECT_EQ(sourced(uid(11), "title"), "研究员");
    EXPECT_EQ(hub_->call("2023010001", "hr", "scan", "{}").status, 403);
}

// 50 000 rows (most for persons the directory does not have yet: kept for when
// they arrive) in one call within its deadline, in bounded memory: what hubd's
// resident set grows by at its peak stays below what holding the file whole
// would take (the GBK bytes, their UTF-8, the parsed rows and their JSON: well
// over 32 MiB for these 3.5 MB), since the plugin streams it in 64 KiB blocks
// and hands the records over 500 at a time.
TEST_F(Hr, AHugeExportOf50000RowsIsReadWithinOneCallInBoundedMemory) {
    start("<settle_seconds>1</settle_seconds>", "", 120000);
    auto kilobytes = [&](const char* field) {
        std::string status = readFile("/proc/" + std::to_string(hub_->process().pid()) + "/status");
        auto at = status.find(field);
        return at == std::string::npos ? -1L : std::stol(status.substr(at + std::strlen(field)));
    };
    std::string csv = "employee_id,employment_status,title,hire_date,staff_category\n";
    for (int i = 0; i < 50000; ++i)
        csv += "E" + std::to_string(100000 + i) + ",在职,\"讲师, 第" + std::to_string(i % 7) +
               "级\",2010-01-01,\"合同制\n（长期）\"\n";
    const long before = kilobytes("VmRSS:");
    ASSERT_GT(before, 0);
    dropFile("huge.csv", vendor::toGbk(csv));
    auto file = only(scanUntilRead());
    EXPECT_EQ(file->getValue<std::string>("status"), "processed") << file->optValue<std::string>("reason", "");
    EXPECT_EQ(file->getValue<int>("rows"), 50000);
    EXPECT_EQ(file->getValue<int>("applied"), 50000);
    EXPECT_EQ(file->getValue<int>("unknown_persons"), 50000);
    const long grewKb = kilobytes("VmHWM:") - before;
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
    // The sanitizers' allocators keep freed memory aside (ASan's quarantine,
    // 256 MiB by default) and shadow every byte: the resident set says nothing
    // of what is live. The plain tree checks the bound.
    std::cout << "[ INFO ] hubd's peak grew by " << grewKb << " kB (not checked under a sanitizer)\n";
#else
    EXPECT_LT(grewKb, 32 * 1024) << "hubd's peak resident set grew by " << grewKb << " kB";
#endif
}

namespace {

// Drops CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH from what this process's
// children may have, so a hubd started as root after it obeys file modes (the
// test process keeps its own). False when that is not possible here.
bool childrenObeyFileModes() {
    if (::geteuid() != 0) return true;
    return ::prctl(PR_CAPBSET_DROP, CAP_DAC_OVERRIDE, 0, 0, 0) == 0 &&
           ::prctl(PR_CAPBSET_DROP, CAP_DAC_READ_SEARCH, 0, 0, 0) == 0;
}

}  // namespace

// The "vendor down" of a drop folder: the folder removed, replaced by a file, or
// unreadable to hubd. A scan answers 503 naming the folder at once (nothing
// hangs, hubd serves on), the plugin's health says down, and once the folder is
// back the next scan reads what was left there, once.
TEST_F(Hr, ADropFolderGoneOrUnreadableIsReportedAndSurvived) {
    const bool modesChecked = childrenObeyFileModes();
    pluginsExtra_ = "<healthIntervalMs>500</healthIntervalMs>";  // not the 10 s default: the test waits for it
    start();
    dropFile("staff.csv", "employee_id,title\n" + uid(12) + ",副教授\n");
    auto expectDown = [&](const std::string& why) {
        SCOPED_TRACE(why);
        const auto began = std::chrono::steady_clock::now();
        auto r = scanCall();
        EXPECT_EQ(r.status, 503) << r.body;
        EXPECT_NE(r.body.find("drop folder"), std::string::npos) << r.body;
        EXPECT_NE(r.body.find(drop()), std::string::npos) << r.body;
        EXPECT_LT(std::chrono::steady_clock::now() - began, std::chrono::seconds(5));
    };
    // The plugin's health, as the hub polls it (plugins.healthIntervalMs).
    auto expectHealth = [&](const std::string& detail) {
        std::string systems;
        EXPECT_TRUE(waitUntil(
            [&] {
                systems = httpRequest("GET", hub_->url("/api/v1/systems"), "",
                                      {{"Authorization", "Bearer " + hub::test::adapters::token("admin")}})
                              .body;
                return systems.find(detail) != std::string::npos;
            },
            std::chrono::seconds(15), std::chrono::milliseconds(200)))
            << detail << "\n" << systems;
    };
    fs::rename(drop(), drop() + ".away");
    expectDown("removed");
    expectHealth("the drop folder is gone");
    std::ofstream(drop()) << "not a folder\n";
    expectDown("a file where the folder was");
    fs::remove(drop());
    fs::rename(drop() + ".away", drop());
    if (modesChecked) {
        fs::permissions(drop(), fs::perms::none);
        expectDown("no permission");
        expectHealth("the drop folder is not readable");
        fs::permissions(drop(), fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec);
    } else {
        std::cout << "[ INFO ] the unreadable folder is not checked: running as root without CAP_SETPCAP\n";
    }
    auto files = scanUntilRead();
    ASSERT_EQ(files->size(), 1u);
    EXPECT_EQ(files->getObject(0)->getValue<std::string>("status"), "processed");
    EXPECT_EQ(sourced(uid(12), "title"), "副教授");
    EXPECT_EQ(filesIn(drop() + "/processed"), 1u);
}

// A scan whose file takes longer than the call's deadline: the caller gets 504
// when the deadline passes, not when the file is done; a scan meanwhile is told
// one is running (409); the file is read to its end once and announced once,
// and the next scan finds nothing left.
TEST_F(Hr, AScanPastItsDeadlineAnswersInTimeAndReadsTheFileOnce) {
    hub::test::adapters::PortalPeer portal(dir_);
    // A 2.5 s deadline (a scan leaves a file for the next one when less than 2 s
    // is left) and 400,000 rows (1.6 million sourced fields): storing them took
    // 6 s on SQLite and 18 s on PostgreSQL on the quiet 2-core development machine.
    constexpr int kDeadlineMs = 2500;
    start("<settle_seconds>1</settle_seconds>", portal.eventsXml(), kDeadlineMs);
    std::string csv = "employee_id,employment_status,title,hire_date,staff_category\n";
    constexpr int kRows = 400000;
    for (int i = 0; i < kRows; ++i)
        csv += "E" + std::to_string(100000 + i) + ",在职,讲师,2010-01-01,合同制\n";
    dropFile("slow.csv", csv);
    std::this_thread::sleep_for(std::chrono::milliseconds(1100));
    scanCall();  // starts the settle clock
    std::this_thread::sleep_for(std::chrono::milliseconds(1100));
    const auto began = std::chrono::steady_clock::now();
    auto r = scanCall();
    const auto took = std::chrono::steady_clock::now() - began;
    ASSERT_EQ(r.status, 504) << r.body << " (the file was read within the deadline: make it bigger)";
    EXPECT_LT(took, std::chrono::milliseconds(kDeadlineMs + 2000)) << "answered when the file was done, not at the deadline";
    auto meanwhile = scanCall();
    EXPECT_TRUE(meanwhile.status == 409 || meanwhile.status == 200) << meanwhile.status << " " << meanwhile.body;
    // The event is published before the file moves to processed/: wait for both.
    ASSERT_TRUE(waitUntil(
        [&] {
            return portal.output().find("edu.campus.hub.hr.file_processed") != std::string::npos &&
                   filesIn(drop() + "/processed") == 1;
        },
        std::chrono::seconds(270)))  // generous for a loaded machine
        << portal.output();
    EXPECT_EQ(filesIn(drop() + "/processed/.processing"), 0u);
    HttpResponse after;
    EXPECT_TRUE(waitUntil([&] { return (after = scanCall()).status != 409; }, std::chrono::seconds(10),
                          std::chrono::milliseconds(100)));  // the first scan is returning
    ASSERT_EQ(after.status, 200) << after.body;
    EXPECT_EQ(parse(after.body)->getArray("files")->size(), 0u) << after.body;
    std::this_thread::sleep_for(std::chrono::milliseconds(500));  // a second event would be on its way by now
    const std::string out = portal.output();
    std::size_t events = 0;
    for (std::size_t at = out.find("hr.file_processed"); at != std::string::npos; at = out.find("hr.file_processed", at + 1))
        ++events;
    EXPECT_EQ(events, 1u) << out.substr(0, 2000);
    EXPECT_NE(out.find("\"rows\":" + std::to_string(kRows)), std::string::npos) << out.substr(0, 2000);
}
