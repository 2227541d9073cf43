// The store's own tables beyond the audit writer, on each backend: the audit
// search and the trace log.
#include "Backends.h"
#include "hub/store/AuditLog.h"
#include "hub/store/AuditSearch.h"
#include "hub/store/Database.h"
#include "hub/store/TraceLog.h"

#include <Poco/Data/Session.h>

#include <gtest/gtest.h>

using hub::store::AuditLog;
using hub::store::AuditQuery;
using hub::store::AuditRecord;
using hub::store::Database;
using hub::store::TraceHop;
using hub::store::TraceLog;

namespace {
class StoreTablesOnEachBackend : public hub::store::testing::OnEachBackend {};
HUB_STORE_ON_EACH_BACKEND(StoreTablesOnEachBackend);

AuditRecord call(const std::string& at, const std::string& subject, const std::string& system,
                 const std::string& person = "", const std::string& actingFor = "") {
    AuditRecord r;
    r.at = at;
    r.subject = subject;
    r.actingFor = actingFor;
    r.system = system;
    r.operation = "lookup";
    r.outcome = "ok";
    r.httpStatus = 200;
    r.requestId = subject + "@" + at;
    r.person = person;
    return r;
}
}  // namespace

TEST_P(StoreTablesOnEachBackend, TheAuditSearchFiltersPagesAndBindsHostileText) {
    Database db(options());
    {
        AuditLog audit(db);
        audit.record(call("2026-12-01T08:00:00.000000Z", "张三", "student_affairs", "李四"));
        audit.record(call("2026-12-01T09:00:00.000000Z", "portal", "finance", "", "张三"));
        audit.record(call("2026-12-02T08:00:00.000000Z", "王五", "student_affairs", "张三"));
        audit.record(call("2026-12-03T08:00:00.000000Z", "x' OR '1'='1", "library"));
        for (int i = 0; i < 5; ++i)
            audit.record(call("2026-12-04T08:00:0" + std::to_string(i) + ".000000Z", "bulk", "library"));
        ASSERT_TRUE(audit.flush());
    }
    AuditQuery q;
    q.person = "张三";  // as caller, or acted for
    auto rows = hub::store::searchAudit(db, q);
    ASSERT_EQ(rows.size(), 2u);
    EXPECT_EQ(rows[0].record.system, "finance");  // newest first
    EXPECT_EQ(rows[1].record.person, "李四");

    q = {};
    q.about = "张三";  // also as the person accessed
    EXPECT_EQ(hub::store::searchAudit(db, q).size(), 3u);

    q = {};
    q.system = "student_affairs";
    q.since = "2026-12-02";
    rows = hub::store::searchAudit(db, q);
    ASSERT_EQ(rows.size(), 1u);
    EXPECT_EQ(rows[0].record.subject, "王五");

    q = {};
    q.person = "x' OR '1'='1";  // bound, never spliced
    rows = hub::store::searchAudit(db, q);
    ASSERT_EQ(rows.size(), 1u);
    EXPECT_EQ(rows[0].record.system, "library");

    q = {};
    q.person = "bulk";
    q.limit = 2;
    auto page1 = hub::store::searchAudit(db, q);
    ASSERT_EQ(page1.size(), 2u);
    q.before = page1.back().id;
    auto page2 = hub::store::searchAudit(db, q);
    ASSERT_EQ(page2.size(), 2u);
    EXPECT_LT(page2.front().id, page1.back().id);
    EXPECT_EQ(page2.front().record.at, "2026-12-04T08:00:02.000000Z");
}

TEST_P(StoreTablesOnEachBackend, TheTraceLogKeepsTheFirstBindingAndHopsInOrder) {
    Database db(options());
    TraceLog::migrate(db);
    TraceLog::migrate(db);  // idempotent
    TraceLog trace(db);
    EXPECT_FALSE(trace.list("app-1"));
    const std::string id = TraceLog::newTraceId();
    {
        auto s = db.session();
        s.begin();
        TraceLog::bind(s, "app-1", id);
        TraceLog::bind(s, "app-1", TraceLog::newTraceId());  // the first binding stays
        TraceLog::record(s, {0, "app-1", "", 1000, "api", "POST /api/v1/applications", "201", "", 12});
        s.commit();
        EXPECT_EQ(TraceLog::traceIdFor(s, "app-1"), id);
        EXPECT_EQ(TraceLog::traceIdFor(s, "app-2"), "");
    }
    trace.record({0, "app-1", "", 1000, "flow", "审核", "ok", "同一毫秒", -1});  // same ms: write order
    trace.record({0, "app-1", "", 900, "plugin", "student_affairs.lookup", "ok", "", 3});
    auto listed = trace.list("app-1");
    ASSERT_TRUE(listed);
    EXPECT_EQ(listed->traceId, id);
    ASSERT_EQ(listed->hops.size(), 3u);
    EXPECT_EQ(listed->hops[0].kind, "plugin");
    EXPECT_EQ(listed->hops[1].kind, "api");
    EXPECT_EQ(listed->hops[2].name, "审核");
    EXPECT_EQ(listed->hops[2].detail, "同一毫秒");
    EXPECT_EQ(listed->hops[2].durationMs, -1);
    EXPECT_EQ(listed->hops[2].traceId, id);
    EXPECT_EQ(trace.list("app-1", 1)->hops.size(), 1u);
}
