#include "hub/store/AuditLog.h"

#include "hub/store/Database.h"

#include <Poco/Data/SQLite/Utility.h>
#include <Poco/Data/Session.h>
#include <Poco/Logger.h>

#include <sqlite3.h>

#include <cstdio>
#include <ctime>
#include <iterator>
#include <memory>
#include <stdexcept>
#include <vector>


namespace hub::store {

namespace {
const std::vector<Migration> kAuditMigrations = {
    {1,
     {"CREATE TABLE audit_calls ("
      " id INTEGER PRIMARY KEY AUTOINCREMENT,"
      " at TEXT NOT NULL,"
      " subject TEXT NOT NULL,"
      " acting_for TEXT NOT NULL,"
      " system TEXT NOT NULL,"
      " operation TEXT NOT NULL,"
      " outcome TEXT NOT NULL,"
      " http_status INTEGER NOT NULL,"
      " duration_us INTEGER NOT NULL,"
      " request_id TEXT NOT NULL)",
      "CREATE INDEX audit_calls_at ON audit_calls(at)",
      "CREATE INDEX audit_calls_subject ON audit_calls(subject, at)"}},
    // request_id is the hub's own id; what the client called the request is kept beside it.
    {2, {"ALTER TABLE audit_calls ADD COLUMN client_request_id TEXT NOT NULL DEFAULT ''"}},
};
// Writes the batch with one statement prepared once and stepped per row,
// binding the records' own strings: Poco's vector binding copied each column
// into vectors and then again into its binder (3.7 against 3.0 us per row).
void insertBatch(Poco::Data::Session& session, const std::deque<AuditRecord>& batch) {
    sqlite3* db = Poco::Data::SQLite::Utility::dbHandle(session);
    sqlite3_stmt* raw = nullptr;
    int rc = sqlite3_prepare_v2(db,
                                "INSERT INTO audit_calls(at, subject, acting_for, system, operation, outcome,"
                                " http_status, duration_us, request_id, client_request_id) VALUES(?,?,?,?,?,?,?,?,?,?)",
                                -1, &raw, nullptr);
    std::unique_ptr<sqlite3_stmt, decltype(&sqlite3_finalize)> statement(raw, &sqlite3_finalize);
    if (rc != SQLITE_OK) throw std::runtime_error(std::string("preparing the audit insert: ") + sqlite3_errmsg(db));
    auto text = [&](int column, const std::string& value) {
        return sqlite3_bind_text(raw, column, value.data(), static_cast<int>(value.size()), SQLITE_STATIC);
    };
    for (const auto& r : batch) {
        rc = text(1, r.at);
        if (rc == SQLITE_OK) rc = text(2, r.subject);
        if (rc == SQLITE_OK) rc = text(3, r.actingFor);
        if (rc == SQLITE_OK) rc = text(4, r.system);
        if (rc == SQLITE_OK) rc = text(5, r.operation);
        if (rc == SQLITE_OK) rc = text(6, r.outcome);
        if (rc == SQLITE_OK) rc = sqlite3_bind_int(raw, 7, r.httpStatus);
        if (rc == SQLITE_OK) rc = sqlite3_bind_int64(raw, 8, r.durationUs);
        if (rc == SQLITE_OK) rc = text(9, r.requestId);
        if (rc == SQLITE_OK) rc = text(10, r.clientRequestId);
        if (rc == SQLITE_OK) rc = sqlite3_step(raw) == SQLITE_DONE ? SQLITE_OK : sqlite3_errcode(db);
        if (rc != SQLITE_OK) throw std::runtime_error(std::string("writing an audit record: ") + sqlite3_errmsg(db));
        sqlite3_reset(raw);
    }
}

}  // namespace

AuditLog::AuditLog(Database& db, std::size_t maxQueued, std::chrono::milliseconds commitInterval)
    : db_(db), maxQueued_(maxQueued), commitInterval_(commitInterval) {
    db_.migrate("audit", kAuditMigrations);
    writer_ = std::thread([this] { run(); });
}

AuditLog::~AuditLog() {
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
    }
    wake_.notify_all();
    writer_.join();
}

std::string AuditLog::formatTime(std::chrono::system_clock::time_point at) {
    // The date and time of day change once a second: each thread keeps the last
    // second's text and adds the microseconds (Poco's formatter, run per call,
    // did the calendar arithmetic and a dozen appends every time).
    using namespace std::chrono;
    thread_local std::int64_t cachedSecond = -1;
    thread_local char secondText[32];
    const std::int64_t micros = duration_cast<microseconds>(at.time_since_epoch()).count();
    std::int64_t second = micros / 1000000;
    std::int64_t fraction = micros % 1000000;
    if (fraction < 0) {
        fraction += 1000000;
        --second;
    }
    if (second != cachedSecond) {
        std::time_t t = static_cast<std::time_t>(second);
        std::tm utc{};
        gmtime_r(&t, &utc);
        std::strftime(secondText, sizeof secondText, "%Y-%m-%dT%H:%M:%S", &utc);
        cachedSecond = second;
    }
    char out[48];
    int n = std::snprintf(out, sizeof out, "%s.%06dZ", secondText, static_cast<int>(fraction));
    return std::string(out, static_cast<std::size_t>(n));
}

void AuditLog::record(AuditRecord record) {
    if (record.at.empty()) record.at = formatTime(std::chrono::system_clock::now());
    bool wake;
    {
        std::lock_guard lock(mutex_);
        if (queue_.size() >= maxQueued_) {
            ++dropped_;
            return;
        }
        queue_.push_back(std::move(record));
        // The first record starts the writer's interval; a full batch ends it early.
        wake = queue_.size() == 1 || queue_.size() == batchRecords;
    }
    if (wake) wake_.notify_one();
}

void AuditLog::flush() {
    std::unique_lock lock(mutex_);
    ++flushWaiters_;
    wake_.notify_all();
    idle_.wait(lock, [this] { return queue_.empty() && !writing_; });
    --flushWaiters_;
}

std::uint64_t AuditLog::written() const {
    std::lock_guard lock(mutex_);
    return written_;
}

std::uint64_t AuditLog::dropped() const {
    std::lock_guard lock(mutex_);
    return dropped_;
}

std::size_t AuditLog::queued() const {
    std::lock_guard lock(mutex_);
    return queue_.size();
}

void AuditLog::run() {
    std::unique_lock lock(mutex_);
    for (;;) {
        wake_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
        if (queue_.empty()) {
            idle_.notify_all();
            if (stopping_) return;
            continue;
        }
        wake_.wait_for(lock, commitInterval_, [this] {
            return stopping_ || flushWaiters_ > 0 || queue_.size() >= batchRecords;
        });
        std::deque<AuditRecord> batch;
        if (queue_.size() <= batchRecords) {
            batch.swap(queue_);
        } else {  // behind: the oldest batchRecords now, the rest in the next turns
            auto end = queue_.begin() + static_cast<std::ptrdiff_t>(batchRecords);
            batch.assign(std::make_move_iterator(queue_.begin()), std::make_move_iterator(end));
            queue_.erase(queue_.begin(), end);
        }
        writing_ = true;
        lock.unlock();
        try {
            Poco::Data::Session s = db_.session();
            s.begin();
            try {
                insertBatch(s, batch);
            } catch (...) {
                s.rollback();
                throw;
            }
            s.commit();
            lock.lock();
            written_ += batch.size();
        } catch (const std::exception& e) {
            Poco::Logger::get("hub.audit").error("could not write %z audit records: %s", batch.size(),
                                                 std::string(e.what()));
            lock.lock();
            dropped_ += batch.size();
        }
        writing_ = false;
        if (queue_.empty()) idle_.notify_all();
    }
}

}  // namespace hub::store
