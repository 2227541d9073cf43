#include "hub/store/AuditLog.h"

#include "hub/store/Database.h"

#include <Poco/Data/Session.h>
#include <Poco/DateTimeFormat.h>
#include <Poco/DateTimeFormatter.h>
#include <Poco/Logger.h>
#include <Poco/Timestamp.h>

#include <vector>

using namespace Poco::Data::Keywords;

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
};
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

void AuditLog::record(AuditRecord record) {
    if (record.at.empty())
        record.at = Poco::DateTimeFormatter::format(Poco::Timestamp(), "%Y-%m-%dT%H:%M:%s%z");
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
        batch.swap(queue_);
        writing_ = true;
        lock.unlock();
        try {
            // One statement for the whole batch: Poco binds the column vectors and
            // steps once per row without compiling the SQL again.
            std::vector<std::string> at, subject, actingFor, system, operation, outcome, requestId;
            std::vector<int> httpStatus;
            std::vector<Poco::Int64> durationUs;
            for (auto* v : {&at, &subject, &actingFor, &system, &operation, &outcome, &requestId}) v->reserve(batch.size());
            for (auto& r : batch) {
                at.push_back(std::move(r.at));
                subject.push_back(std::move(r.subject));
                actingFor.push_back(std::move(r.actingFor));
                system.push_back(std::move(r.system));
                operation.push_back(std::move(r.operation));
                outcome.push_back(std::move(r.outcome));
                httpStatus.push_back(r.httpStatus);
                durationUs.push_back(r.durationUs);
                requestId.push_back(std::move(r.requestId));
            }
            Poco::Data::Session s = db_.session();
            s.begin();
            s << "INSERT INTO audit_calls(at, subject, acting_for, system, operation, outcome,"
                 " http_status, duration_us, request_id) VALUES(?,?,?,?,?,?,?,?,?)",
                use(at), use(subject), use(actingFor), use(system), use(operation), use(outcome), use(httpStatus),
                use(durationUs), use(requestId), now;
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
