#pragma once

#include "hub/catalog/Snapshot.h"
#include "hub/catalog/WorkingCalendar.h"
#include "hub/flows/ApplicationService.h"
#include "hub/store/Database.h"

#include <Poco/Timestamp.h>

#include <atomic>
#include <filesystem>
#include <memory>
#include <string>

namespace hub::flows::test {

/// The audiences submits are made as.
inline const catalog::AudienceSet kTeacher = catalog::Audience::Teacher;
inline const catalog::AudienceSet kStudent = catalog::Audience::Student;

/// The repository root (HUB_SOURCE_DIR, set by ctest).
std::filesystem::path sourceDir();

/// The shipped catalogue (config/catalog), loaded once.
const catalog::Snapshot& shippedCatalog();

/// The shipped catalogue plus one item handled by a plugin operation
/// directly (`certificate-by-plugin`, student_affairs.enrolment_certificate,
/// the enrolment certificate's form): the shipped items all run flows or
/// reviews, and the plugin handler stays supported. Loaded once.
const catalog::Snapshot& catalogWithPluginItem();

/// The shipped calendar (config/calendar/calendar.xml), loaded once.
const catalog::WorkingCalendar& shippedCalendar();

/// A temporary directory removed with everything in it.
class TempDir {
public:
    TempDir();
    ~TempDir();
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    const std::filesystem::path& path() const { return path_; }

private:
    std::filesystem::path path_;
};

/// A settable clock shared with the service.
class TestClock {
public:
    /// Starts at `isoUtc` ("2026-09-30T02:00:00Z").
    explicit TestClock(const std::string& isoUtc);
    Poco::Timestamp now() const { return Poco::Timestamp(micros_.load()); }
    void set(const std::string& isoUtc);
    void advanceSeconds(std::int64_t seconds) { micros_ += seconds * 1000000; }

private:
    std::atomic<Poco::Timestamp::TimeVal> micros_;
};

/// A store on the run's backend (a file in a temp dir, or a fresh PostgreSQL
/// database: hub/test/StoreOptions.h), the service on it with the shipped
/// calendar, UTC+8 and the test clock.
struct Fixture {
    explicit Fixture(const std::string& startUtc = "2026-09-30T02:00:00Z");
    /// On the store `shared` names (a second hub on the first one's database).
    Fixture(const std::string& startUtc, const store::Database::Options& shared);
    ~Fixture();

    /// Closes and reopens database and service on the same store (a hub restart).
    void reopen();
    ApplicationService::Options options();

    TempDir dir;
    store::Database::Options storeOptions;  ///< The same store at every reopen().
    std::shared_ptr<TestClock> clock;
    std::unique_ptr<store::Database> db;
    std::unique_ptr<ApplicationService> service;
};

/// A valid request for vehicle-pass (security, teacher/staff, 5 working days,
/// two required materials) by `subject`.
ApplicationService::SubmitRequest vehiclePass(const std::string& subject, const std::string& plate = "京A12345");

/// Rows in a table.
std::int64_t countRows(store::Database& db, const std::string& table);

}  // namespace hub::flows::test
