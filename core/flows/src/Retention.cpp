#include "hub/flows/Retention.h"

#include "hub/store/Lease.h"

#include "hub/common/JsonWriter.h"
#include "hub/store/AuditLog.h"
#include "hub/store/Database.h"

#include "PostgresSchema.h"

#include <Poco/Data/Session.h>
#include <Poco/Data/Statement.h>
#include <Poco/Exception.h>
#include <Poco/Logger.h>
#include <Poco/Util/AbstractConfiguration.h>

#include <algorithm>
#include <functional>

namespace hub::flows {

namespace {

using namespace Poco::Data::Keywords;
using Clock = std::chrono::system_clock;

const std::vector<std::string> kRetentionStep1 = {
    "CREATE TABLE privacy_legal_holds ("
    " application_id TEXT PRIMARY KEY,"
    " reason TEXT NOT NULL,"
    " held_by TEXT NOT NULL,"
    " held_at TEXT NOT NULL)",
    "CREATE TABLE privacy_retention_runs ("
    " id INTEGER PRIMARY KEY AUTOINCREMENT,"
    " actor TEXT NOT NULL,"
    " started_at TEXT NOT NULL,"
    " finished_at TEXT NOT NULL,"
    " report TEXT NOT NULL)"};
const std::vector<store::Migration> kRetentionMigrations = {{1, kRetentionStep1, postgresSchema(kRetentionStep1)}};

// What an application leaves in other tables, deleted with it (by application id).
const char* const kByApplication[] = {
    "DELETE FROM flows_engine_tokens WHERE instance_id IN"
    " (SELECT id FROM flows_engine_instances WHERE application_id = ?)",
    "DELETE FROM flows_engine_timers WHERE instance_id IN"
    " (SELECT id FROM flows_engine_instances WHERE application_id = ?)",
    "DELETE FROM flows_engine_history WHERE instance_id IN"
    " (SELECT id FROM flows_engine_instances WHERE application_id = ?)",
    "DELETE FROM flows_engine_incidents WHERE instance_id IN"
    " (SELECT id FROM flows_engine_instances WHERE application_id = ?)",
    "DELETE FROM flows_engine_tasks WHERE application_id = ?",
    "DELETE FROM flows_engine_instances WHERE application_id = ?",
    "DELETE FROM flows_ratings WHERE application_id = ?",
    "DELETE FROM flows_idempotency WHERE application_id = ?",
    "DELETE FROM flows_transitions WHERE application_id = ?",
    "DELETE FROM privacy_legal_holds WHERE application_id = ?",
    "DELETE FROM trace_hops WHERE application_id = ?",
    "DELETE FROM trace_applications WHERE application_id = ?",
    "DELETE FROM flows_applications WHERE id = ?",
};

const char* const kFinished = "status IN ('rejected', 'completed', 'cancelled')";

std::string isoTime(Clock::time_point at) { return store::AuditLog::formatTime(at); }

std::int64_t epochMs(Clock::time_point at) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(at.time_since_epoch()).count();
}

int readDays(const Poco::Util::AbstractConfiguration& c, const std::string& key, int fallback, int max) {
    const std::string full = "privacy.retention." + key;
    int value = 0;
    try {
        value = c.getInt(full, fallback);
    } catch (const Poco::Exception&) {
        throw Poco::InvalidArgumentException(full + ": '" + c.getString(full, "") + "' is not a whole number");
    }
    if (value < 0 || value > max)
        throw Poco::InvalidArgumentException(full + ": " + std::to_string(value) + " is outside 0.." +
                                             std::to_string(max));
    return value;
}

}  // namespace

RetentionPolicy RetentionPolicy::fromConfig(const Poco::Util::AbstractConfiguration& c) {
    static const std::vector<std::string> known = {"applicationsDays", "auditDays",   "eventsDays", "departedPersonsDays",
                                                   "deadLettersDays",  "batchRows", "intervalHours"};
    Poco::Util::AbstractConfiguration::Keys keys;
    c.keys("privacy.retention", keys);
    for (const auto& k : keys)
        if (std::find(known.begin(), known.end(), k) == known.end())
            throw Poco::InvalidArgumentException("privacy.retention." + k + ": unknown key");
    RetentionPolicy p;
    p.applicationsDays = readDays(c, "applicationsDays", p.applicationsDays, 36500);
    p.auditDays = readDays(c, "auditDays", p.auditDays, 36500);
    p.eventsDays = readDays(c, "eventsDays", p.eventsDays, 36500);
    p.departedPersonsDays = readDays(c, "departedPersonsDays", p.departedPersonsDays, 36500);
    p.deadLettersDays = readDays(c, "deadLettersDays", p.deadLettersDays, 36500);
    p.batchRows = readDays(c, "batchRows", p.batchRows, 100000);
    if (p.batchRows == 0) throw Poco::InvalidArgumentException("privacy.retention.batchRows: 0 is outside 1..100000");
    p.intervalHours = readDays(c, "intervalHours", p.intervalHours, 8760);
    return p;
}

std::string RetentionReport::toJson() const {
    std::string out = "{\"id\":" + std::to_string(id) + ",\"actor\":";
    json::appendString(out, actor);
    out += ",\"startedAt\":";
    json::appendString(out, startedAt);
    out += ",\"finishedAt\":";
    json::appendString(out, finishedAt);
    out += ",\"kinds\":{";
    for (std::size_t i = 0; i < kinds.size(); ++i) {
        if (i) out += ',';
        json::appendString(out, kinds[i].name);
        out += ":{\"days\":" + std::to_string(kinds[i].days) + ",\"cutoff\":";
        json::appendString(out, kinds[i].cutoff);
        out += ",\"deleted\":" + std::to_string(kinds[i].deleted) + "}";
    }
    return out + "},\"heldKept\":" + std::to_string(heldKept) + "}";
}

Retention::Retention(store::Database& db, RetentionPolicy policy, store::AuditLog* audit)
    : db_(db), policy_(policy), audit_(audit) {
    db_.migrate("privacy", kRetentionMigrations);
}

Retention::~Retention() = default;

const std::vector<store::Migration>& Retention::migrations() { return kRetentionMigrations; }

std::optional<RetentionReport> Retention::runScheduled(const std::string& actor, std::chrono::milliseconds interval) {
    if (!scheduleLease_) {
        store::Lease::migrate(db_);
        scheduleLease_ = std::make_unique<store::Lease>(db_, "privacy.retention", db_.nodeId(),
                                                        std::max<std::chrono::milliseconds>(interval, std::chrono::seconds(1)));
    }
    if (!scheduleLease_->tryAcquire()) return std::nullopt;  // another hub's turn
    return run(actor);
}

RetentionReport Retention::run(const std::string& actor, Clock::time_point asOf) {
    RetentionReport report;
    report.actor = actor;
    report.startedAt = isoTime(Clock::now());
    const auto batch = static_cast<std::size_t>(policy_.batchRows);
    Poco::Data::Session session = db_.session();

    // Deletes, a batch per transaction, the keys select (bound to cutoff)
    // returns, with each statement of remove; counts the keys.
    auto sweep = [&](const std::string& select, const auto& cutoff, const std::vector<std::string>& remove) {
        std::int64_t deleted = 0;
        for (;;) {
            std::vector<std::string> keys;
            auto bound = cutoff;
            session << store::sql(session, select + " LIMIT " + std::to_string(batch)), use(bound), into(keys), now;
            if (keys.empty()) break;
            session.begin();
            try {
                for (const auto& statement : remove) session << store::sql(session, statement), use(keys), now;
                session.commit();
            } catch (...) {
                session.rollback();
                throw;
            }
            deleted += static_cast<std::int64_t>(keys.size());
            if (keys.size() < batch) break;
        }
        return deleted;
    };
    auto kind = [&](const std::string& name, int days, const std::function<std::int64_t(Clock::time_point)>& work) {
        RetentionReport::Kind k{name, days, "", 0};
        if (days > 0) {
            const auto cutoff = asOf - std::chrono::hours(24) * days;
            k.cutoff = isoTime(cutoff);
            k.deleted = work(cutoff);
        }
        report.kinds.push_back(k);
    };

    kind("applications", policy_.applicationsDays, [&](Clock::time_point cutoff) -> std::int64_t {
        if (!db_.hasTable("flows_applications")) return 0;
        const std::string expired = std::string("SELECT id FROM flows_applications WHERE ") + kFinished +
                                    " AND updated_at < ?";
        std::string text = isoTime(cutoff);
        int held = 0;
        session << store::sql(session, "SELECT count(*) FROM (" + expired +
                                           ") AS e WHERE id IN (SELECT application_id FROM privacy_legal_holds)"),
            use(text), into(held), now;
        report.heldKept = held;
        std::vector<std::string> remove;
        // Tables of modules this hub does not run (no engine) are left out.
        for (const char* statement : kByApplication) {
            std::string s = statement;
            auto from = s.find("FROM ") + 5;
            std::string table = s.substr(from, s.find(' ', from) - from);
            if (db_.hasTable(table)) remove.push_back(s);
        }
        return sweep(expired + " AND id NOT IN (SELECT application_id FROM privacy_legal_holds)", text, remove);
    });
    kind("audit", policy_.auditDays, [&](Clock::time_point cutoff) -> std::int64_t {
        if (!db_.hasTable("audit_calls")) return 0;
        return sweep("SELECT CAST(id AS TEXT) FROM audit_calls WHERE at < ?", isoTime(cutoff),
                     {"DELETE FROM audit_calls WHERE id = CAST(? AS BIGINT)"});
    });
    // Dead letters before events: an expired dead letter frees its event.
    kind("deadLetters", policy_.deadLettersDays, [&](Clock::time_point cutoff) -> std::int64_t {
        if (!db_.hasTable("events_dead_letters")) return 0;
        return sweep("SELECT consumer || ':' || seq FROM events_dead_letters WHERE dead_at < ?", epochMs(cutoff),
                     {"DELETE FROM events_delivery WHERE consumer || ':' || seq = ?",
                      "DELETE FROM events_dead_letters WHERE consumer || ':' || seq = ?"});
    });
    kind("events", policy_.eventsDays, [&](Clock::time_point cutoff) -> std::int64_t {
        if (!db_.hasTable("events_outbox")) return 0;
        // Only what every consumer has settled, and no dead letter still names.
        std::int64_t n = sweep(
            "SELECT CAST(seq AS TEXT) FROM events_outbox WHERE created_at < ?"
            " AND seq <= COALESCE((SELECT MIN(seq) FROM events_cursor), seq)"
            " AND seq NOT IN (SELECT seq FROM events_dead_letters)",
            epochMs(cutoff),
            {"DELETE FROM events_delivery WHERE seq = CAST(? AS BIGINT)",
             "DELETE FROM events_outbox WHERE seq = CAST(? AS BIGINT)"});
        return n + sweep("SELECT id FROM events_inbox WHERE received_at < ?", epochMs(cutoff),
                         {"DELETE FROM events_inbox WHERE id = ?"});
    });
    kind("departedPersons", policy_.departedPersonsDays, [&](Clock::time_point cutoff) -> std::int64_t {
        if (!db_.hasTable("identity_persons")) return 0;
        return sweep(
            "SELECT entry_uuid FROM identity_persons WHERE status = 'departed' AND departed_at IS NOT NULL"
            " AND departed_at < ?",
            isoTime(cutoff), {"DELETE FROM identity_persons WHERE entry_uuid = ?"});
    });

    report.finishedAt = isoTime(Clock::now());
    // The stored report carries its own row id: the row first, then its text.
    session.begin();
    try {
        session << store::sql(
            session, "INSERT INTO privacy_retention_runs(actor, started_at, finished_at, report) VALUES(?,?,?,'')"),
            bind(actor), bind(report.startedAt), bind(report.finishedAt), now;
        // This session's own row: on PostgreSQL another hub's run may commit meanwhile.
        if (db_.dialect() == store::Dialect::PostgreSql)
            session << "SELECT currval(pg_get_serial_sequence('privacy_retention_runs', 'id'))", into(report.id), now;
        else
            session << "SELECT max(id) FROM privacy_retention_runs", into(report.id), now;
        std::string json = report.toJson();
        session << store::sql(session, "UPDATE privacy_retention_runs SET report = ? WHERE id = ?"), use(json),
            bind(report.id), now;
        session.commit();
    } catch (...) {
        session.rollback();
        throw;
    }
    if (audit_) {
        store::AuditRecord row;
        row.subject = actor;
        row.operation = "retention run " + std::to_string(report.id);
        row.outcome = "ok";
        row.httpStatus = 200;
        row.durationUs = 0;
        audit_->record(std::move(row));
    }
    std::string summary = "retention run " + std::to_string(report.id) + " by " + actor + " deleted:";
    for (const auto& k : report.kinds) summary += " " + k.name + "=" + std::to_string(k.deleted);
    Poco::Logger::get("hub.privacy").information(summary + "; " + std::to_string(report.heldKept) +
                                                 " expired application(s) kept by a legal hold");
    return report;
}

std::vector<std::string> Retention::reports(std::size_t limit) const {
    std::vector<std::string> out;
    Poco::Data::Session session = db_.session();
    session << "SELECT report FROM privacy_retention_runs ORDER BY id DESC LIMIT " + std::to_string(limit), into(out),
        now;
    return out;
}

bool Retention::hold(const std::string& applicationId, const std::string& reason, const std::string& by) {
    Poco::Data::Session session = db_.session();
    int n = 0;
    session << store::sql(session, "SELECT count(*) FROM flows_applications WHERE id = ?"), bind(applicationId),
        into(n), now;
    if (n == 0) return false;
    std::string at = isoTime(Clock::now());
    session << store::sql(
        session,
        "INSERT INTO privacy_legal_holds(application_id, reason, held_by, held_at) VALUES(?,?,?,?)"
        " ON CONFLICT(application_id) DO UPDATE SET reason = excluded.reason, held_by = excluded.held_by,"
        " held_at = excluded.held_at"),
        bind(applicationId), bind(reason), bind(by), use(at), now;
    return true;
}

bool Retention::release(const std::string& applicationId) {
    Poco::Data::Session session = db_.session();
    Poco::Data::Statement remove(session);
    remove << store::sql(session, "DELETE FROM privacy_legal_holds WHERE application_id = ?"), bind(applicationId);
    return remove.execute() > 0;
}

std::optional<LegalHold> Retention::holdOf(const std::string& applicationId) const {
    Poco::Data::Session session = db_.session();
    std::vector<std::string> reason, by, at;
    session << store::sql(session, "SELECT reason, held_by, held_at FROM privacy_legal_holds WHERE application_id = ?"),
        bind(applicationId), into(reason), into(by), into(at), now;
    if (reason.empty()) return std::nullopt;
    return LegalHold{applicationId, reason[0], by[0], at[0]};
}

}  // namespace hub::flows
