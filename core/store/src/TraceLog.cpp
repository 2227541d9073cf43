#include "hub/store/TraceLog.h"

#include "hub/store/Database.h"

#include <Poco/Data/Session.h>
#include <Poco/Data/Statement.h>
#include <Poco/Logger.h>

#include <chrono>
#include <random>

using namespace Poco::Data::Keywords;

namespace hub::store {

namespace {

std::string randomHex(std::size_t digits) {
    thread_local std::mt19937_64 random{std::random_device{}()};
    static const char* const hex = "0123456789abcdef";
    std::string out;
    while (out.size() < digits) {
        std::uint64_t bits = random();
        for (int i = 0; i < 16 && out.size() < digits; ++i, bits >>= 4) out += hex[bits & 15];
    }
    if (out.find_first_not_of('0') == std::string::npos) out.back() = '1';  // all zero is invalid in W3C
    return out;
}

}  // namespace

void TraceLog::migrate(Database& db) {
    db.migrate("trace", {{1,
                          {"CREATE TABLE trace_applications ("
                           " application_id TEXT PRIMARY KEY,"
                           " trace_id TEXT NOT NULL)",
                           // seq keeps write order for hops of the same millisecond.
                           "CREATE TABLE trace_hops ("
                           " seq INTEGER PRIMARY KEY AUTOINCREMENT,"
                           " application_id TEXT NOT NULL,"
                           " trace_id TEXT NOT NULL,"
                           " at_ms INTEGER NOT NULL,"
                           " kind TEXT NOT NULL,"
                           " name TEXT NOT NULL,"
                           " outcome TEXT NOT NULL,"
                           " detail TEXT NOT NULL,"
                           " duration_ms INTEGER NOT NULL)",
                           "CREATE INDEX trace_hops_application ON trace_hops(application_id, at_ms)"}}});
}

std::int64_t TraceLog::nowMs() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
}

std::string TraceLog::newTraceId() { return randomHex(32); }

void TraceLog::bind(Poco::Data::Session& session, const std::string& applicationId, const std::string& traceId) {
    std::string app = applicationId, trace = traceId;
    session << "INSERT INTO trace_applications(application_id, trace_id) VALUES(?, ?) "
               "ON CONFLICT(application_id) DO NOTHING",
        use(app), use(trace), now;
}

std::string TraceLog::traceIdFor(Poco::Data::Session& session, const std::string& applicationId) {
    std::string app = applicationId;
    std::vector<std::string> found;
    session << "SELECT trace_id FROM trace_applications WHERE application_id = ?", use(app), into(found), now;
    return found.empty() ? std::string() : found.front();
}

void TraceLog::record(Poco::Data::Session& session, TraceHop hop) {
    if (hop.atMs == 0) hop.atMs = nowMs();
    Poco::Int64 at = hop.atMs, duration = hop.durationMs;
    session << "INSERT INTO trace_hops(application_id, trace_id, at_ms, kind, name, outcome, detail, duration_ms) "
               "VALUES(?, COALESCE((SELECT trace_id FROM trace_applications WHERE application_id = ?), ''), "
               "?, ?, ?, ?, ?, ?)",
        use(hop.applicationId), use(hop.applicationId), use(at), use(hop.kind), use(hop.name), use(hop.outcome),
        use(hop.detail), use(duration), now;
}

void TraceLog::record(TraceHop hop) noexcept {
    try {
        Poco::Data::Session session = db_.session();
        record(session, std::move(hop));
    } catch (const std::exception& e) {
        try {
            db_.recordFailure(e);
            Poco::Logger::get("hub.trace").warning("a trace hop of application %s was not written: %s",
                                                   hop.applicationId, std::string(e.what()));
        } catch (...) {
        }
    } catch (...) {
    }
}

std::optional<TraceLog::Trace> TraceLog::list(const std::string& applicationId, std::size_t limit) {
    Poco::Data::Session session = db_.session();
    Trace trace;
    trace.traceId = traceIdFor(session, applicationId);
    std::string app = applicationId;
    Poco::Int64 max = static_cast<Poco::Int64>(limit);
    std::vector<Poco::Int64> seq, at, duration;
    std::vector<std::string> traceIds, kind, name, outcome, detail;
    session << "SELECT seq, trace_id, at_ms, kind, name, outcome, detail, duration_ms FROM trace_hops "
               "WHERE application_id = ? ORDER BY at_ms, seq LIMIT ?",
        use(app), use(max), into(seq), into(traceIds), into(at), into(kind), into(name), into(outcome), into(detail),
        into(duration), now;
    if (trace.traceId.empty() && seq.empty()) return std::nullopt;
    for (std::size_t i = 0; i < seq.size(); ++i)
        trace.hops.push_back(
            {seq[i], applicationId, traceIds[i], at[i], kind[i], name[i], outcome[i], detail[i], duration[i]});
    return trace;
}

}  // namespace hub::store
