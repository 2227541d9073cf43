#include "FlowsTestSupport.h"

#include "hub/catalog/Catalog.h"
#include "hub/test/StoreOptions.h"

#include <Poco/DateTimeFormat.h>
#include <Poco/DateTimeParser.h>
#include <Poco/Path.h>
#include <Poco/TemporaryFile.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <stdexcept>

using namespace Poco::Data::Keywords;

namespace hub::flows::test {

std::filesystem::path sourceDir() {
    const char* dir = std::getenv("HUB_SOURCE_DIR");
    if (dir != nullptr && *dir != '\0') return dir;
#ifdef HUB_TEST_SOURCE_DIR
    return HUB_TEST_SOURCE_DIR;
#else
    throw std::runtime_error("HUB_SOURCE_DIR is not set (run the tests with ctest)");
#endif
}

const catalog::Snapshot& shippedCatalog() {
    static const std::shared_ptr<const catalog::Snapshot> snapshot =
        catalog::Catalog::load({(sourceDir() / "config" / "catalog").string(), ""});
    return *snapshot;
}

const catalog::Snapshot& catalogWithPluginItem() {
    static const std::shared_ptr<const catalog::Snapshot> snapshot = [] {
        static TempDir dir;
        for (const auto& entry : std::filesystem::directory_iterator(sourceDir() / "config" / "catalog"))
            std::filesystem::copy(entry.path(), dir.path() / entry.path().filename(),
                                  std::filesystem::copy_options::recursive);
        std::ofstream(dir.path() / "99-plugin-item.xml") << R"xml(<?xml version="1.0" encoding="UTF-8"?>
<catalog version="1">
  <item id="certificate-by-plugin" category="undergraduate" department="academic-affairs" channel="online" audience="student" timeLimit="1">
    <name zh="在读证明（插件直办）" en="Enrolment certificate (by its plugin)"/>
    <handler>
      <plugin system="student_affairs" operation="enrolment_certificate"/>
    </handler>
    <form>
      <field id="student_id" type="string" required="true" maxLength="20" zh="学号" en="Student number"/>
      <field id="purpose" type="string" required="true" maxLength="50" zh="用途" en="Purpose"/>
      <field id="language" type="string" required="false" maxLength="5" zh="语言" en="Language"/>
    </form>
  </item>
</catalog>
)xml";
        return catalog::Catalog::load({dir.path().string(), ""});
    }();
    return *snapshot;
}

const catalog::WorkingCalendar& shippedCalendar() {
    static const catalog::WorkingCalendar calendar =
        catalog::WorkingCalendar::fromFile((sourceDir() / "config" / "calendar" / "calendar.xml").string());
    return calendar;
}

TempDir::TempDir() : path_(Poco::TemporaryFile::tempName()) {
    std::filesystem::create_directories(path_);
}

TempDir::~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
}

namespace {
Poco::Timestamp::TimeVal parseUtc(const std::string& iso) {
    int tzd = 0;
    Poco::DateTime dt = Poco::DateTimeParser::parse(Poco::DateTimeFormat::ISO8601_FORMAT, iso, tzd);
    dt.makeUTC(tzd);
    return dt.timestamp().epochMicroseconds();
}
}  // namespace

TestClock::TestClock(const std::string& isoUtc) : micros_(parseUtc(isoUtc)) {}

void TestClock::set(const std::string& isoUtc) {
    micros_ = parseUtc(isoUtc);
}

Fixture::Fixture(const std::string& startUtc)
    : storeOptions(hub::test::storeOptions(dir.path().string())), clock(std::make_shared<TestClock>(startUtc)) {
    reopen();
}

Fixture::Fixture(const std::string& startUtc, const store::Database::Options& shared)
    : storeOptions(shared), clock(std::make_shared<TestClock>(startUtc)) {
    storeOptions.nodeId.clear();  // a node of its own
    reopen();
}

Fixture::~Fixture() {
    service.reset();
    db.reset();
}

ApplicationService::Options Fixture::options() {
    ApplicationService::Options o;
    o.calendar = shippedCalendar();
    o.utcOffsetSeconds = 8 * 3600;  // the hall is in China
    auto c = clock;
    o.clock = [c] { return c->now(); };
    return o;
}

void Fixture::reopen() {
    service.reset();
    db.reset();
    db = std::make_unique<store::Database>(storeOptions);
    service = std::make_unique<ApplicationService>(*db, options());
}

ApplicationService::SubmitRequest vehiclePass(const std::string& subject, const std::string& plate) {
    ApplicationService::SubmitRequest r;
    r.subject = subject;
    r.itemId = "vehicle-pass";
    std::string form = "{\"plate\":\"" + plate + "\"}";
    r.formJson = form;
    r.materials = {"driving-license", "staff-card"};
    return r;
}

std::int64_t countRows(store::Database& db, const std::string& table) {
    Poco::Data::Session s = db.session();
    Poco::Int64 n = 0;
    s << "SELECT COUNT(*) FROM " + table, into(n), now;
    return n;
}

}  // namespace hub::flows::test
