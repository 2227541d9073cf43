#include "hub/store/AuditLog.h"

#include "hub/store/Database.h"
#include "hub/store/StoreError.h"

#include <Poco/Data/SQLite/Utility.h>
#include <Poco/Data/Session.h>
#include <Poco/Logger.h>

#include <sqlite3.h>

#include <cstdio>
#include <ctime>
#include <iterator>
#include <memory>
#include <optional>
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
    // Whose data a call read (docs/privacy.md): the audit search by the person accessed.
    {3,
     {"ALTER TABLE audit_calls ADD COLUMN person TEXT NOT NULL DEFAULT ''",
      "CREATE INDEX audit_calls_person ON audit_calls(person, at)"}},
};
// Writes the batch with one statement prepared once and stepped per row,
// binding the records' own strings: Poco's vector binding copied each column
// into vectors and then again into its binder (3.7 against 3.0 us per row).
void insertBatch(Poco::Data::Session& session, const std::deque<AuditRecord>& batch) {
    sqlite3* db = Poco::Data::SQLite::Utility::dbHandle(session);
    sqlite3_stmt* raw = nullptr;
    int rc = sqlite3_prepare_v2(db,
                                "INSERT INTO audit_calls(at, subject, acting_for, system, operation, outcome,"
                                " http_status, duration_us, request_id, client_request_id, person) VALUES(?,?,?,?,?,?,?,?,?,?,?)",
                                -1, &raw, nullptr);
    std::unique_ptr<sqlite3_stmt, decltype(&sqlite3_finalize)> statement(raw, &sqlite3_finalize);
    if (rc != SQLITE_OK) Poco::Data::SQLite::Utility::throwException(db, rc, "preparing the audit insert");
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
        if (rc == SQLITE_OK) rc = text(11, r.person);
        if (rc == SQLITE_OK) rc = sqlite3_step(raw) == SQLITE_DONE ? SQLITE_OK : sqlite3_errcode(db);
        // Poco's exception types say which failures are the store's (StoreError.h).
        if (rc != SQLITE_OK) Poco::Data::SQLite::Utility::throwException(db, rc, "writing an audit record");
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
            ++queueFullDrops_;
            return;
        }
        queue_.push_back(std::move(record));
        // The first record starts the writer's interval; a full batch ends it early.
        wake = queue_.size() == 1 || queue_.size() == batchRecords;
    }
    if (wake) wake_.notify_one();
}

bool AuditLog::flush() {
    std::unique_lock lock(mutex_);
    ++flushWaiters_;
    const std::uint64_t refusals = storeRefusals_;
    wake_.notify_all();
    idle_.wait(lock, [&] { return (queue_.empty() && !writing_) || storeRefusals_ != refusals; });
    --flushWaiters_;
    return queue_.empty() && !writing_;
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
    // Nothing may end this thread: std::terminate would take hubd down, and a
    // silently dead writer would leave record() queueing for nobody. Whatever a
    // turn throws (a logging channel, an allocation) is logged and the writer
    // goes on; the records it had taken are counted as dropped.
    for (;;) {
        try {
            if (!writeOneBatch()) return;
        } catch (...) {
            std::unique_lock lock(mutex_);
            dropped_ += inFlight_;
            inFlight_ = 0;
            writing_ = false;
            idle_.notify_all();
            try {
                Poco::Logger::get("hub.audit").error("the audit writer caught an unexpected exception; it goes on");
            } catch (...) {
            }
            // Not a busy loop if the cause persists.
            wake_.wait_for(lock, std::chrono::milliseconds(100), [this] { return stopping_; });
        }
    }
}

// One transaction's worth: waits for records, writes up to batchRecords of them,
// and accounts for them. False when stopping and nothing is left.
bool AuditLog::writeOneBatch() {
    using Clock = std::chrono::steady_clock;
    std::unique_lock lock(mutex_);
    wake_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
    if (queue_.empty()) {
        reportLocked(Clock::now(), true);  // the last word at shutdown
        idle_.notify_all();
        return false;
    }
    if (retryDelay_.count() > 0 && !stopping_) {
        // The store refused the last batch: wait before trying again, unless flushed.
        wake_.wait_for(lock, retryDelay_, [this] { return stopping_ || flushWaiters_ > 0; });
    } else {
        wake_.wait_for(lock, commitInterval_, [this] {
            return stopping_ || flushWaiters_ > 0 || queue_.size() >= batchRecords;
        });
    }
    std::deque<AuditRecord> batch;
    if (queue_.size() <= batchRecords) {
        batch.swap(queue_);
    } else {  // behind: the oldest batchRecords now, the rest in the next turns
        auto end = queue_.begin() + static_cast<std::ptrdiff_t>(batchRecords);
        batch.assign(std::make_move_iterator(queue_.begin()), std::make_move_iterator(end));
        queue_.erase(queue_.begin(), end);
    }
    inFlight_ = batch.size();
    writing_ = true;
    lock.unlock();

    std::optional<StoreFault> fault;
    std::string error;
    bool ok = false;
    try {
        Poco::Data::Session s = db_.session();
        s.begin();
        try {
            insertBatch(s, batch);
            s.commit();
        } catch (...) {
            // A failed COMMIT may have been rolled back by SQLite already; the
            // pool rolls back whatever is left when the session goes back.
            if (s.isTransaction()) {
                try {
                    s.rollback();
                } catch (const Poco::Exception&) {
                }
            }
            throw;
        }
        ok = true;
    } catch (const std::exception& e) {
        fault = db_.recordFailure(e);
        auto* poco = dynamic_cast<const Poco::Exception*>(&e);
        error = poco ? poco->displayText() : std::string(e.what());
    }

    lock.lock();
    const auto now = Clock::now();
    const std::size_t count = batch.size();
    inFlight_ = 0;
    writing_ = false;
    if (ok) {
        written_ += count;
        if (retryDelay_.count() > 0) {
            retryDelay_ = std::chrono::milliseconds(0);
            if (faultLogged_)
                Poco::Logger::get("hub.audit").information(
                    "audit records are written again after %.1f s (the store was %s)",
                    std::chrono::duration<double>(now - faultSince_).count(), fault_);
            faultLogged_ = false;
            fault_.clear();
        }
    } else if (fault && !stopping_) {
        // Nothing of the batch was stored: back to the head of the queue, in order.
        queue_.insert(queue_.begin(), std::make_move_iterator(batch.begin()), std::make_move_iterator(batch.end()));
        ++storeRefusals_;
        if (retryDelay_.count() == 0) {
            retryDelay_ = std::chrono::milliseconds(100);
            faultSince_ = now;
            fault_ = std::string(toString(*fault)) + ": " + error;
            if (now - lastFaultReport_ >= reportInterval) {  // a store that flaps is reported once per interval
                Poco::Logger::get("hub.audit").warning("the store refuses audit records (%s); %z held, retrying",
                                                       fault_, queue_.size());
                faultLogged_ = true;
                lastFaultReport_ = now;
            }
        } else {
            retryDelay_ = std::min(retryDelay_ * 2, std::chrono::milliseconds(5000));
        }
        idle_.notify_all();  // a flush() waiting for this attempt returns
    } else if (fault) {
        // Stopping, and the store still refuses: the rest would fail alike (a busy
        // store after its full timeout each), so it is all dropped now, counted.
        dropped_ += count + queue_.size();
        queue_.clear();
        dropReason_ = std::string(toString(*fault)) + " at shutdown: " + error;
    } else {
        dropped_ += count;
        dropReason_ = error;
    }
    reportLocked(now, false);
    if (queue_.empty()) idle_.notify_all();
    return true;
}

// At most once per reportInterval each: records dropped since the last report,
// and records held while the store refuses them.
void AuditLog::reportLocked(std::chrono::steady_clock::time_point now, bool final) {
    auto& log = Poco::Logger::get("hub.audit");
    const std::uint64_t dropped = dropped_ - droppedReported_;
    if (dropped > 0 && (final || now - lastDropReport_ >= reportInterval)) {
        const std::uint64_t queueFull = queueFullDrops_ - queueFullReported_;
        std::string why;
        if (queueFull > 0) why = std::to_string(queueFull) + " with the queue full";
        if (dropped > queueFull) {
            if (!why.empty()) why += ", ";
            why += std::to_string(dropped - queueFull) + " in batches the database refused (last: " + dropReason_ + ")";
        }
        droppedReported_ = dropped_;
        queueFullReported_ = queueFullDrops_;
        lastDropReport_ = now;
        log.error("%Lu audit record(s) lost since the last report (%s); %Lu in all",
                  static_cast<unsigned long long>(dropped), why, static_cast<unsigned long long>(dropped_));
    }
    if (retryDelay_.count() > 0 && now - faultSince_ >= reportInterval && now - lastFaultReport_ >= reportInterval) {
        faultLogged_ = true;
        lastFaultReport_ = now;
        log.warning("the store still refuses audit records (%s): %z waiting", fault_, queue_.size());
    }
}

}  // namespace hub::store
