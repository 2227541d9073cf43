// The engine's tables: a state saved and read back (across a reopen, as after
// a kill -9), the compare-and-set, and the writes inside the application's own
// transaction: all committed together or none.
#include "EngineTestSupport.h"

#include "../../tests/FlowsTestSupport.h"

#include "hub/flows/engine/Deployer.h"
#include "hub/flows/engine/EngineStore.h"
#include "hub/store/Lease.h"

#include <Poco/Data/Transaction.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <map>

using namespace hub::flows::engine;
using namespace Poco::Data::Keywords;
using namespace hub::flows::engine::test;
using hub::flows::test::Fixture;
using hub::flows::test::countRows;

namespace {

constexpr std::int64_t kNow = 1790816400000;

struct StoreFixture {
    StoreFixture() : store(std::make_unique<EngineStore>(*f.db)) {}

    void reopen() {
        store.reset();
        f.reopen();
        store = std::make_unique<EngineStore>(*f.db);
    }

    // Applies `input` to the stored instance (or a new one) and commits.
    Result step(const Definition& def, const std::string& id, Input input) {
        auto session = f.db->session();
        Poco::Data::Transaction tx(session, true);
        InstanceState state;
        if (input.kind == Input::Kind::Start) {
            state.id = id;
            state.version = 1;
        } else {
            state = *store->load(session, id);
        }
        input.now = kNow;
        Result result = engine.apply(def, state, input);
        store->save(session, state, result.effects, "app-" + id, kNow);
        tx.commit();
        return result;
    }

    Fixture f;
    std::unique_ptr<EngineStore> store;
    Engine engine;
};

Input startWith(const std::string& variables) {
    Input in;
    in.kind = Input::Kind::Start;
    in.variables = Value::fromJson(variables);
    return in;
}

Input completion(const std::string& taskId, const std::string& decision) {
    Input in;
    in.kind = Input::Kind::TaskCompleted;
    in.taskId = taskId;
    in.decision = decision;
    in.actor = "clerk.li";
    return in;
}

TEST(EngineStoreTest, AStateSurvivesAReopenAndRunsOnToTheEnd) {
    StoreFixture s;
    auto def = deployFlow(readData("travel-abroad.bpmn"), "travel-abroad.bpmn");
    s.step(*def, "i1", startWith(R"({"form":{"days":10,"reason":"学术会议"}})"));
    EXPECT_EQ(countRows(*s.f.db, "flows_engine_tokens"), 3);
    EXPECT_EQ(countRows(*s.f.db, "flows_engine_timers"), 1);
    {
        auto session = s.f.db->session();
        const auto tasks = s.store->openTasks(session);
        ASSERT_EQ(tasks.size(), 3u);
        EXPECT_EQ(tasks[0].candidateGroups, "dept:cs:dean");
        EXPECT_EQ(tasks[0].applicationId, "app-i1");
        for (const auto& listed : tasks) {  // the API's look-up by key reads what the list holds
            auto one = s.store->openTask(session, listed.id);
            ASSERT_TRUE(one) << listed.id;
            EXPECT_EQ(one->instanceId, listed.instanceId);
            EXPECT_EQ(one->candidateGroups, listed.candidateGroups);
            EXPECT_EQ(one->createdAt, listed.createdAt);
        }
        EXPECT_FALSE(s.store->openTask(session, "no-such-task"));
        EXPECT_EQ(s.store->dueTimers(session, kNow + 10LL * 86400000, 10).size(), 1u);
        EXPECT_TRUE(s.store->dueTimers(session, kNow, 10).empty());
    }

    s.reopen();  // what a restart after kill -9 sees: the last commit
    auto session = s.f.db->session();
    auto state = s.store->load(session, "i1");
    ASSERT_TRUE(state);
    EXPECT_EQ(state->revision, 1);
    EXPECT_EQ(state->tasks.size(), 3u);
    EXPECT_EQ(state->variables.member("form").member("reason").toJson(), "\"学术会议\"");
    std::vector<std::string> completed;
    for (const auto& task : std::vector<UserTask>(state->tasks)) {
        completed.push_back(task.id);
        s.step(*def, "i1", completion(task.id, "approve"));
    }
    state = s.store->load(session, "i1");
    EXPECT_EQ(state->status, InstanceStatus::Completed);
    EXPECT_EQ(state->outcome, "approved");
    EXPECT_EQ(countRows(*s.f.db, "flows_engine_tokens"), 0);
    EXPECT_EQ(countRows(*s.f.db, "flows_engine_timers"), 0);
    EXPECT_TRUE(s.store->openTasks(session).empty());
    ASSERT_EQ(completed.size(), 3u);
    for (const auto& id : completed) EXPECT_FALSE(s.store->openTask(session, id)) << "a completed task is not open";
    const auto history = s.store->history(session, "i1");
    ASSERT_FALSE(history.empty());
    EXPECT_EQ(history.front().seq, 1);
    EXPECT_EQ(history.back().elementId, "Event_approved");
    for (std::size_t i = 0; i < history.size(); ++i) EXPECT_EQ(history[i].seq, static_cast<std::int64_t>(i + 1));
}

TEST(EngineStoreTest, StateJsonRoundTripsExactly) {
    auto def = deployFlow(readData("travel-abroad.bpmn"), "travel-abroad.bpmn");
    Engine engine;
    InstanceState state;
    state.id = "i7";
    state.version = 3;
    Input in = startWith(R"({"form":{"days":45}})");
    in.now = kNow;
    engine.apply(*def, state, in);
    const std::string json = stateToJson(state);
    EXPECT_EQ(stateToJson(stateFromJson(json)), json);
}

TEST(EngineStoreTest, ASecondWriterOfTheSameRevisionGetsAConflict) {
    StoreFixture s;
    auto def = deployFlow(readData("travel-abroad.bpmn"), "travel-abroad.bpmn");
    s.step(*def, "i1", startWith(R"({"form":{"days":10}})"));
    auto session = s.f.db->session();
    auto first = *s.store->load(session, "i1");
    auto second = *s.store->load(session, "i1");
    auto a = s.engine.apply(*def, first, completion(first.tasks[0].id, "approve"));
    s.store->save(session, first, a.effects, "app-i1", kNow);
    auto b = s.engine.apply(*def, second, completion(second.tasks[0].id, "reject"));
    EXPECT_THROW(s.store->save(session, second, b.effects, "app-i1", kNow), InstanceConflict);
}

TEST(EngineStoreTest, TheEnginesWritesCommitOrRollBackWithTheApplicationsChange) {
    StoreFixture s;
    auto submitted = s.f.service->submit(hub::flows::test::vehiclePass("t.wang"), hub::flows::test::shippedCatalog(),
                                         hub::catalog::Audience::Teacher);
    ASSERT_TRUE(submitted.application);
    const std::string appId = submitted.application->id;
    auto def = deployFlow(readData("travel-abroad.bpmn"), "travel-abroad.bpmn");

    auto attempt = [&](bool commit) {
        auto session = s.f.db->session();
        Poco::Data::Transaction tx(session, true);
        s.f.service->transitionWithin(session, appId, hub::flows::ApplicationStatus::InReview, "hub", "flow started");
        InstanceState state;
        state.id = "i-" + appId;
        state.version = s.store->saveDeployment(session, *def, kNow);
        Input in = startWith(R"({"form":{"days":3}})");
        in.now = kNow;
        auto result = s.engine.apply(*def, state, in);
        s.store->save(session, state, result.effects, appId, kNow);
        if (commit) tx.commit();
        else tx.rollback();
    };
    attempt(false);
    EXPECT_EQ(countRows(*s.f.db, "flows_engine_instances"), 0);
    EXPECT_EQ(countRows(*s.f.db, "flows_engine_tasks"), 0);
    EXPECT_EQ(countRows(*s.f.db, "flows_engine_deployments"), 0);
    EXPECT_EQ(s.f.service->find(appId)->status, hub::flows::ApplicationStatus::Submitted);

    attempt(true);
    EXPECT_EQ(countRows(*s.f.db, "flows_engine_instances"), 1);
    EXPECT_EQ(countRows(*s.f.db, "flows_engine_tasks"), 3);
    EXPECT_EQ(s.f.service->find(appId)->status, hub::flows::ApplicationStatus::InReview);
    auto session = s.f.db->session();
    EXPECT_EQ(s.store->instanceOf(session, appId), "i-" + appId);
}

TEST(EngineStoreTest, OfTwoClerksClaimingATaskOneWins) {
    StoreFixture s;
    auto def = deployFlow(readData("travel-abroad.bpmn"), "travel-abroad.bpmn");
    s.step(*def, "i1", startWith(R"({"form":{"days":10}})"));
    auto session = s.f.db->session();
    const std::string task = s.store->openTasks(session)[0].id;
    EXPECT_TRUE(s.store->claimTask(session, task, "clerk.li"));
    EXPECT_TRUE(s.store->claimTask(session, task, "clerk.li"));  // again: still theirs
    EXPECT_FALSE(s.store->claimTask(session, task, "clerk.wang"));
    EXPECT_FALSE(s.store->unclaimTask(session, task, "clerk.wang", false));
    EXPECT_EQ(s.store->openTasks(session)[0].claimedBy, "clerk.li");
    EXPECT_TRUE(s.store->unclaimTask(session, task, "clerk.li", false));
    EXPECT_TRUE(s.store->claimTask(session, task, "clerk.wang"));
    EXPECT_TRUE(s.store->unclaimTask(session, task, "admin", true));
    s.step(*def, "i1", completion(task, "approve"));
    EXPECT_FALSE(s.store->claimTask(session, task, "clerk.li"));  // closed
}

TEST(EngineStoreTest, DeploymentsKeepTheirVersionByHash) {
    StoreFixture s;
    auto session = s.f.db->session();
    auto v1 = deployFlow(readData("enrolment-certificate.bpmn"), "e.bpmn");
    EXPECT_EQ(s.store->saveDeployment(session, *v1, kNow), 1);
    EXPECT_EQ(s.store->saveDeployment(session, *v1, kNow), 1);
    std::string changed = readData("enrolment-certificate.bpmn");
    changed.replace(changed.find("查询学籍"), std::string("查询学籍").size(), "查询学籍信息");
    auto v2 = deployFlow(changed, "e.bpmn");
    EXPECT_EQ(s.store->saveDeployment(session, *v2, kNow), 2);
    EXPECT_EQ(s.store->deploymentXml(session, "enrolment-certificate", 1), v1->xml);
    EXPECT_EQ(s.store->deploymentXml(session, "enrolment-certificate", 2), changed);
    EXPECT_FALSE(s.store->deploymentXml(session, "enrolment-certificate", 3));
}

TEST(EngineStoreTest, CallsOutAreListedForTheRestartWithTheirKeys) {
    StoreFixture s;
    auto def = deployFlow(readData("enrolment-certificate.bpmn"), "e.bpmn");
    s.step(*def, "i1", startWith(R"({"applicant":{"id":"s1"}})"));
    s.reopen();
    auto session = s.f.db->session();
    const auto calls = s.store->pendingCalls(session);
    ASSERT_EQ(calls.size(), 1u);
    EXPECT_EQ(calls[0].key, "i1:Activity_lookup:1");
    EXPECT_EQ(calls[0].attempt, 1);
    // The answer to the re-issued call moves the instance on.
    Input answer;
    answer.kind = Input::Kind::ServiceCompleted;
    answer.callKey = calls[0].key;
    answer.variables = Value::fromJson(R"({"status":"在读"})");
    auto result = s.step(*def, "i1", answer);
    EXPECT_TRUE(result.applied);
    EXPECT_EQ(s.store->pendingCalls(session)[0].key, "i1:Activity_issue:1");
}

// Several hubs: a call out is another's to make again only when no live hub
// is doing it; of two hubs claiming it, one does.
TEST(EngineStoreTest, ACallIsOrphanedOnlyWhenItsHubIsGoneOrItIsPastItsDeadline) {
    StoreFixture s;
    hub::store::Lease::migrate(*s.f.db);
    auto def = deployFlow(readData("enrolment-certificate.bpmn"), "e.bpmn");
    s.step(*def, "i1", startWith(R"({"applicant":{"id":"s1"}})"));
    auto session = s.f.db->session();
    const std::string self = s.f.db->nodeId();
    const auto calls = s.store->pendingCalls(session);
    ASSERT_EQ(calls.size(), 1u);
    EXPECT_EQ(calls[0].waitingNode, self);
    EXPECT_EQ(calls[0].waitingSince, kNow);

    // Its hub holds no lease flows.node.<id>: gone.
    EXPECT_EQ(s.store->orphanedCalls(session, 0, "flows.node.", "").size(), 1u);
    hub::store::Lease alive(*s.f.db, "flows.node." + self, self, std::chrono::seconds(60));
    ASSERT_TRUE(alive.tryAcquire());
    EXPECT_TRUE(s.store->orphanedCalls(session, 0, "flows.node.", "").empty()) << "its hub is live";
    EXPECT_EQ(s.store->orphanedCalls(session, kNow + 1, "flows.node.", "").size(), 1u) << "past its deadline";
    EXPECT_EQ(s.store->orphanedCalls(session, 0, "flows.node.", self).size(), 1u) << "the starting hub's own";
    alive.release();
    EXPECT_EQ(s.store->orphanedCalls(session, 0, "flows.node.", "").size(), 1u) << "its hub stopped";

    // Two hubs found it: the first claim takes it (this hub, now), the second
    // finds it taken.
    EXPECT_TRUE(s.store->claimCall(session, calls[0], kNow + 5));
    EXPECT_FALSE(s.store->claimCall(session, calls[0], kNow + 6));
    const auto claimed = s.store->pendingCalls(session);
    ASSERT_EQ(claimed.size(), 1u);
    EXPECT_EQ(claimed[0].waitingSince, kNow + 5);
    EXPECT_EQ(claimed[0].waitingNode, self);
}

}  // namespace

namespace {

// The token and timer rows of `id` as stored, and their rowids (a row written
// anew gets a new one).
struct Rows {
    std::map<std::int64_t, std::pair<std::int64_t, std::string>> tokens;  // token id -> rowid, content
    std::map<std::string, std::int64_t> timers;                           // timer id -> rowid
};

Rows rowsOf(hub::store::Database& db, const std::string& id) {
    Rows rows;
    auto session = db.session();
    std::vector<Poco::Int64> rowids, tokenIds, attempts;
    std::vector<std::string> elements, waits, details, keys;
    std::string instance = id;
    // Where the row is stored: SQLite's rowid, PostgreSQL's ctid (a rewritten row moves).
    const std::string rowid = db.dialect() == hub::store::Dialect::PostgreSql
                                  ? "((ctid::text::point)[0]::bigint * 65536 + (ctid::text::point)[1]::bigint)"
                                  : "rowid";
    session << hub::store::sql(
        session, "SELECT " + rowid +
                     ", token_id, element_id, wait, detail, attempt, correlation_key FROM flows_engine_tokens"
                     " WHERE instance_id = ?"),
        use(instance), into(rowids), into(tokenIds), into(elements), into(waits), into(details), into(attempts),
        into(keys), now;
    for (std::size_t n = 0; n < rowids.size(); ++n)
        rows.tokens[tokenIds[n]] = {rowids[n], elements[n] + "|" + waits[n] + "|" + details[n] + "|" +
                                                   std::to_string(attempts[n]) + "|" + keys[n]};
    std::vector<Poco::Int64> timerRowids;
    std::vector<std::string> timerIds;
    session << hub::store::sql(session, "SELECT " + rowid + ", id FROM flows_engine_timers WHERE instance_id = ?"),
        use(instance), into(timerRowids), into(timerIds), now;
    for (std::size_t n = 0; n < timerIds.size(); ++n) rows.timers[timerIds[n]] = timerRowids[n];
    return rows;
}

// The rows say what the state says, exactly.
void expectRowsMatch(const Rows& rows, const InstanceState& state) {
    ASSERT_EQ(rows.tokens.size(), state.tokens.size());
    for (const auto& token : state.tokens) {
        auto row = rows.tokens.find(token.id);
        ASSERT_NE(row, rows.tokens.end()) << token.id;
        EXPECT_EQ(row->second.second, token.elementId + "|" + waitName(token.wait) + "|" + token.detail + "|" +
                                          std::to_string(token.attempt) + "|" + token.correlation);
    }
    ASSERT_EQ(rows.timers.size(), state.timers.size());
    for (const auto& timer : state.timers) EXPECT_TRUE(rows.timers.count(timer.id)) << timer.id;
}

}  // namespace

// A step writes only the token and timer rows that changed: the three parallel
// reviews' tokens and the reminder's timer stay the rows they were while one
// review after another completes, and the rows always say what the state says.
TEST(EngineStoreTest, AStepWritesOnlyTheRowsThatChanged) {
    StoreFixture s;
    auto def = deployFlow(readData("travel-abroad.bpmn"), "travel-abroad.bpmn");
    s.step(*def, "i1", startWith(R"({"form":{"days":10,"reason":"学术会议"}})"));
    auto session = s.f.db->session();
    auto state = *s.store->load(session, "i1");
    Rows before = rowsOf(*s.f.db, "i1");
    expectRowsMatch(before, state);
    ASSERT_EQ(before.tokens.size(), 3u);
    ASSERT_EQ(before.timers.size(), 1u);
    int untouched = 0;
    while (s.store->load(session, "i1")->status == InstanceStatus::Running) {
        state = *s.store->load(session, "i1");
        ASSERT_FALSE(state.tasks.empty());
        s.step(*def, "i1", completion(state.tasks.back().id, "approve"));
        state = *s.store->load(session, "i1");
        const Rows after = rowsOf(*s.f.db, "i1");
        expectRowsMatch(after, state);
        for (const auto& [id, row] : after.tokens) {
            auto old = before.tokens.find(id);
            if (old != before.tokens.end() && old->second.second == row.second) {
                EXPECT_EQ(old->second.first, row.first) << "token " << id << " was rewritten unchanged";
                ++untouched;
            }
        }
        for (const auto& [id, rowid] : after.timers)
            if (before.timers.count(id)) EXPECT_EQ(before.timers[id], rowid) << "timer " << id << " was rewritten";
        before = after;
    }
    EXPECT_GT(untouched, 0);
    EXPECT_EQ(countRows(*s.f.db, "flows_engine_tokens"), 0);
    EXPECT_EQ(countRows(*s.f.db, "flows_engine_timers"), 0);
}

// A state built by hand (not loaded: the store does not know its rows) is
// saved whole: its rows replace the stored ones.
TEST(EngineStoreTest, AStateNotLoadedRewritesAllItsRows) {
    StoreFixture s;
    auto def = deployFlow(readData("travel-abroad.bpmn"), "travel-abroad.bpmn");
    s.step(*def, "i1", startWith(R"({"form":{"days":10}})"));
    auto session = s.f.db->session();
    InstanceState copy = stateFromJson(stateToJson(*s.store->load(session, "i1")));
    copy.revision = 1;
    ASSERT_FALSE(copy.stored.known);
    auto result = s.engine.apply(*def, copy, completion(copy.tasks[0].id, "approve"));
    s.store->save(session, copy, result.effects, "app-i1", kNow);
    expectRowsMatch(rowsOf(*s.f.db, "i1"), copy);
    // The completed review's token moved on to the join, in its row too.
    EXPECT_EQ(std::count_if(copy.tokens.begin(), copy.tokens.end(), [](const Token& t) { return t.wait == Wait::Join; }),
              1);
}

// The to-do list's query: a role matches a whole candidate group (never a part
// of one, nor a LIKE wildcard), the assignee matches, closed tasks never show,
// and hub:admin's every task still honours the application filter.
TEST(EngineStoreTest, OpenTasksForSelectsACallersTasksOnly) {
    StoreFixture s;
    auto session = s.f.db->session();
    auto task = [&](const std::string& id, const std::string& groups, const std::string& assignee,
                    const std::string& status, int at) {
        session << "INSERT INTO flows_engine_tasks (id, instance_id, application_id, element_id, name,"
                   " candidate_groups, assignee, status, created_at) VALUES ('" +
                       id + "', 'i-" + id + "', 'app-" + id + "', 'audit', 'Audit', '" + groups + "', '" + assignee +
                       "', '" + status + "', " + std::to_string(at) + ")",
            now;
    };
    task("t1", "dept:finance:clerk", "", "open", 1);
    task("t2", "dept:cs:dean,dept:finance:clerk", "", "open", 2);
    task("t3", "dept:finance:clerks", "", "open", 3);             // a longer group: not the role
    task("t4", "xdept:finance:clerk", "", "open", 4);             // nor a suffix of it
    task("t5", "dept:finance_clerk", "", "open", 5);              // '_' of a role is no wildcard
    task("t6", "dept:library:clerk", "clerk.li", "open", 6);      // assigned to the caller
    task("t7", "dept:finance:clerk", "", "completed", 7);         // closed
    task("t8", "dept:cs:dean,dept:finance:clerk,dept:x:y", "", "open", 8);
    auto ids = [&](const TaskSelection& selection) {
        std::string out;
        for (const auto& t : s.store->openTasksFor(session, selection)) out += (out.empty() ? "" : " ") + t.id;
        return out;
    };
    TaskSelection clerk;
    clerk.assignee = "clerk.li";
    clerk.groups = {"dept:finance:clerk", "dept:finance%clerk", "student"};
    EXPECT_EQ(ids(clerk), "t1 t2 t6 t8");
    TaskSelection underscore;
    underscore.groups = {"dept:finance_clerk"};
    EXPECT_EQ(ids(underscore), "t5");
    EXPECT_EQ(ids(TaskSelection{}), "") << "nobody's tasks";
    TaskSelection admin;
    admin.everyTask = true;
    EXPECT_EQ(ids(admin), "t1 t2 t3 t4 t5 t6 t8");
    admin.applicationId = "app-t4";
    EXPECT_EQ(ids(admin), "t4");
    clerk.applicationId = "app-t2";
    EXPECT_EQ(ids(clerk), "t2");
}
