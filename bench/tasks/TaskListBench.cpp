// The clerks' to-do list with many open tasks: what GET /api/v1/tasks does for
// one clerk, before and after the list was selected in SQL, on SQLite and on a
// private PostgreSQL 15 side by side.
//   all open   EngineStore::openTasks() (every open task), then per task its
//              application (ApplicationService::find) and the caller's check
//              (the route until 2026-12-07)
//   selected   EngineStore::openTasksFor() (the caller's candidate groups,
//              assignee and administered departments in SQL), then the same
//              per task
//   + batch    the same tasks, their applications read at once
//              (ApplicationService::findMany): what the route does now
//   query      openTasksFor() alone: the statement's share of the list
// `tasks` open tasks of as many applications, spread evenly over `groups`
// candidate groups (dept:gN:clerk); the clerk holds one group and a role that
// no task names. Milliseconds per list (the mean of `lists` lists).
//
//   build/bench/tasks/bench_task_list [tasks=10000] [groups=50] [lists=20]
#include "hub/flows/ApplicationService.h"
#include "hub/flows/engine/EngineStore.h"
#include "hub/store/Database.h"
#include "hub/store/PreparedStatement.h"
#include "hub/test/PostgresServer.h"

#include <Poco/Data/Transaction.h>
#include <Poco/Path.h>
#include <Poco/StringTokenizer.h>
#include <Poco/TemporaryFile.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <string>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;
using hub::flows::engine::StoredTask;

struct Caller {
    std::string subject = "clerk7";
    std::vector<std::string> roles = {"dept:g7:clerk", "staff"};
    bool hasRole(const std::string& role) const {
        for (const auto& r : roles)
            if (r == role) return true;
        return false;
    }
};

// The route's check (TaskRoutes.cpp's mayAct, without hub:admin and department admins).
bool mayAct(const Caller& c, const StoredTask& task) {
    if (!task.assignee.empty() && task.assignee == c.subject) return true;
    Poco::StringTokenizer groups(task.candidateGroups, ",",
                                 Poco::StringTokenizer::TOK_TRIM | Poco::StringTokenizer::TOK_IGNORE_EMPTY);
    for (const auto& group : groups)
        if (c.hasRole(group)) return true;
    return false;
}

void fill(hub::store::Database& db, int tasks, int groups) {
    auto s = db.session();
    Poco::Data::Transaction tx(s, true);
    for (int i = 0; i < tasks; ++i) {
        const std::string app = "A" + std::to_string(100000 + i), group = "dept:g" + std::to_string(i % groups) + ":clerk";
        hub::store::PreparedStatement(
            s, "INSERT INTO flows_applications (id, item_id, applicant, submitted_by, department, handler, status,"
               " form, materials, submitted_at, updated_at, time_limit_days, due_date, version)"
               " VALUES (?, 'reimbursement', 's1', 's1', ?, 'flow', 'in_review', '{}', '[]',"
               " '2026-12-07T08:00:00Z', '2026-12-07T08:00:00Z', 5, '2026-12-14', 1)")
            .bind(1, app)
            .bind(2, "g" + std::to_string(i % groups))
            .execute();
        hub::store::PreparedStatement(
            s, "INSERT INTO flows_engine_tasks (id, instance_id, application_id, element_id, name, candidate_groups,"
               " assignee, status, created_at) VALUES (?, ?, ?, 'audit', 'Audit', ?, '', 'open', ?)")
            .bind(1, "I" + std::to_string(i) + ":1")
            .bind(2, "I" + std::to_string(i))
            .bind(3, app)
            .bind(4, i % 10 == 0 ? group + ",dept:finance:auditor" : group)
            .bind(5, static_cast<std::int64_t>(1000 + i))
            .execute();
    }
    tx.commit();
}

// Milliseconds per list, and the tasks it showed.
std::pair<double, std::size_t> measure(hub::store::Database& db, hub::flows::ApplicationService& applications,
                                       int lists, const std::function<std::vector<StoredTask>(Poco::Data::Session&)>& read,
                                       bool batch = false) {
    const Caller caller;
    std::size_t shown = 0;
    const auto t0 = Clock::now();
    for (int n = 0; n < lists; ++n) {
        std::vector<StoredTask> tasks;
        {
            auto s = db.session();
            tasks = read(s);
        }
        shown = 0;
        if (batch) {
            std::vector<std::string> ids;
            for (const auto& task : tasks) ids.push_back(task.applicationId);
            const auto found = applications.findMany(ids);
            for (const auto& task : tasks)
                if (found.count(task.applicationId) && mayAct(caller, task)) ++shown;
            continue;
        }
        for (const auto& task : tasks) {
            auto application = applications.find(task.applicationId);
            if (application && mayAct(caller, task)) ++shown;
        }
    }
    return {std::chrono::duration<double, std::milli>(Clock::now() - t0).count() / lists, shown};
}

void run(const char* name, const hub::store::Database::Options& options, int tasks, int groups, int lists) {
    hub::store::Database db(options);
    hub::flows::ApplicationService applications(db, {});
    hub::flows::engine::EngineStore store(db);
    fill(db, tasks, groups);
    const Caller caller;
    hub::flows::engine::TaskSelection selection;
    selection.assignee = caller.subject;
    selection.groups = caller.roles;
    auto all = measure(db, applications, std::max(1, lists / 10),
                       [&](Poco::Data::Session& s) { return store.openTasks(s); });
    auto selected = measure(db, applications, lists,
                            [&](Poco::Data::Session& s) { return store.openTasksFor(s, selection); });
    auto batched = measure(
        db, applications, lists, [&](Poco::Data::Session& s) { return store.openTasksFor(s, selection); }, true);
    const auto t0 = Clock::now();
    for (int n = 0; n < lists; ++n) {
        auto s = db.session();
        store.openTasksFor(s, selection);
    }
    const double query = std::chrono::duration<double, std::milli>(Clock::now() - t0).count() / lists;
    std::printf("%-11s %10.2f %10.2f %10.2f %9.1fx %8.2f %6zu%s\n", name, all.first, selected.first, batched.first,
                all.first / batched.first, query, batched.second,
                all.second == selected.second && all.second == batched.second ? "" : "  (MISMATCH: counts differ)");
    std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
    const int tasks = argc > 1 ? std::atoi(argv[1]) : 10000;
    const int groups = argc > 2 ? std::atoi(argv[2]) : 50;
    const int lists = argc > 3 ? std::atoi(argv[3]) : 20;
    std::printf("%d open tasks over %d groups, one clerk's list; ms per list\n", tasks, groups);
    std::printf("%-11s %10s %10s %10s %10s %8s %6s\n", "backend", "all open", "selected", "+ batch", "speed-up",
                "query", "shown");
    Poco::TemporaryFile folder;
    folder.createDirectories();
    run("sqlite", hub::store::Database::Options{Poco::Path(folder.path(), "bench.db").toString()}, tasks, groups, lists);
    hub::test::PostgresServer pg;
    pg.psql("CREATE DATABASE tasks_bench");
    hub::store::Database::Options postgres;
    postgres.backend = hub::store::Database::Backend::PostgreSql;
    postgres.connection = pg.conninfo("tasks_bench") + " user=" + pg.user();
    postgres.passwordFile = pg.passwordFile();
    run("postgresql", postgres, tasks, groups, lists);
    return 0;
}
