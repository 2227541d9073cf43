// The engine's tables. The instance row holds the whole state as JSON (what
// load() reads back, one row); tokens, timers, tasks, history and incidents
// are kept as rows beside it for the queries the hub makes across instances
// (due timers, calls out on start, the clerks' to-do list, the applicant's
// diagram, the admins' incidents). Times are milliseconds since the epoch.
#include "hub/flows/engine/EngineStore.h"

#include "hub/store/PreparedStatement.h"

#include "../../src/PostgresSchema.h"

#include <Poco/Data/RecordSet.h>
#include <Poco/Data/Statement.h>

#include <algorithm>

using namespace Poco::Data::Keywords;

namespace hub::flows::engine {

namespace {

// Each step's SQLite statements; PostgreSQL runs them with BIGINT for
// INTEGER (its INTEGER is 32 bits; the times here are milliseconds).
const std::vector<std::string> kEngineStep1 = {
    "CREATE TABLE flows_engine_deployments ("
    " flow_id TEXT NOT NULL,"
    " version INTEGER NOT NULL,"
    " sha256 TEXT NOT NULL,"
    " file TEXT NOT NULL,"
    " xml TEXT NOT NULL,"
    " deployed_at INTEGER NOT NULL,"
    " PRIMARY KEY (flow_id, version),"
    " CONSTRAINT flows_engine_deployments_hash UNIQUE (flow_id, sha256))",
    "CREATE TABLE flows_engine_instances ("
    " id TEXT PRIMARY KEY,"
    " application_id TEXT NOT NULL,"
    " flow_id TEXT NOT NULL,"
    " version INTEGER NOT NULL,"
    " status TEXT NOT NULL,"
    " outcome TEXT NOT NULL,"
    " state TEXT NOT NULL,"
    " steps INTEGER NOT NULL,"
    " revision INTEGER NOT NULL,"
    " created_at INTEGER NOT NULL,"
    " updated_at INTEGER NOT NULL)",
    "CREATE INDEX flows_engine_instances_application ON flows_engine_instances(application_id)",
    "CREATE INDEX flows_engine_instances_status ON flows_engine_instances(status, flow_id)",
    "CREATE TABLE flows_engine_tokens ("
    " instance_id TEXT NOT NULL,"
    " token_id INTEGER NOT NULL,"
    " element_id TEXT NOT NULL,"
    " wait TEXT NOT NULL,"
    " detail TEXT NOT NULL,"
    " attempt INTEGER NOT NULL,"
    " PRIMARY KEY (instance_id, token_id))",
    "CREATE INDEX flows_engine_tokens_wait ON flows_engine_tokens(wait)",
    "CREATE TABLE flows_engine_tasks ("
    " id TEXT PRIMARY KEY,"
    " instance_id TEXT NOT NULL,"
    " application_id TEXT NOT NULL,"
    " element_id TEXT NOT NULL,"
    " name TEXT NOT NULL,"
    " candidate_groups TEXT NOT NULL,"
    " assignee TEXT NOT NULL,"
    " claimed_by TEXT NOT NULL DEFAULT '',"
    " status TEXT NOT NULL,"
    " created_at INTEGER NOT NULL,"
    " closed_at INTEGER NOT NULL DEFAULT 0,"
    " closed_by TEXT NOT NULL DEFAULT '',"
    " decision TEXT NOT NULL DEFAULT '')",
    "CREATE INDEX flows_engine_tasks_open ON flows_engine_tasks(status, created_at)",
    "CREATE INDEX flows_engine_tasks_instance ON flows_engine_tasks(instance_id)",
    "CREATE TABLE flows_engine_timers ("
    " id TEXT PRIMARY KEY,"
    " instance_id TEXT NOT NULL,"
    " element_id TEXT NOT NULL,"
    " due_at INTEGER NOT NULL,"
    " purpose TEXT NOT NULL)",
    "CREATE INDEX flows_engine_timers_due ON flows_engine_timers(due_at)",
    "CREATE INDEX flows_engine_timers_instance ON flows_engine_timers(instance_id)",
    "CREATE TABLE flows_engine_history ("
    " instance_id TEXT NOT NULL,"
    " seq INTEGER NOT NULL,"
    " element_id TEXT NOT NULL,"
    " event TEXT NOT NULL,"
    " actor TEXT NOT NULL,"
    " at INTEGER NOT NULL,"
    " result TEXT NOT NULL,"
    " PRIMARY KEY (instance_id, seq))",
    "CREATE TABLE flows_engine_incidents ("
    " id TEXT PRIMARY KEY,"
    " instance_id TEXT NOT NULL,"
    " element_id TEXT NOT NULL,"
    " message TEXT NOT NULL,"
    " created_at INTEGER NOT NULL,"
    " resolved_at INTEGER NOT NULL DEFAULT 0)",
    "CREATE INDEX flows_engine_incidents_open ON flows_engine_incidents(resolved_at)"};
const std::vector<std::string> kEngineStep3 = {
    "CREATE TABLE flows_engine_messages ("
    " id TEXT PRIMARY KEY,"
    " name TEXT NOT NULL,"
    " correlation_key TEXT NOT NULL,"
    " application_id TEXT NOT NULL,"
    " variables TEXT NOT NULL,"
    " actor TEXT NOT NULL,"
    " status TEXT NOT NULL,"
    " instance_id TEXT NOT NULL DEFAULT '',"
    " created_at INTEGER NOT NULL,"
    " expires_at INTEGER NOT NULL)",
    "CREATE INDEX flows_engine_messages_kept ON flows_engine_messages(status, name, correlation_key)",
    "CREATE INDEX flows_engine_messages_expiry ON flows_engine_messages(expires_at)"};
const std::vector<store::Migration> kMigrations = {
    {1, kEngineStep1, flows::postgresSchema(kEngineStep1)},
    // Message waits by name and correlation key (a message published to the hub
    // finds the instances that wait for it).
    {2,
     {"ALTER TABLE flows_engine_tokens ADD COLUMN correlation_key TEXT NOT NULL DEFAULT ''",
      "CREATE INDEX flows_engine_tokens_message ON flows_engine_tokens(wait, detail, correlation_key)"}},
    // Messages that came before their wait, kept for a time-to-live, and the
    // ids of delivered ones as long (duplicates).
    {3, kEngineStep3, flows::postgresSchema(kEngineStep3)},
    // Since when each token waits as it does, and the hub that began the wait
    // (made the call): several hubs make again only the calls no live hub is
    // doing (orphanedCalls).
    {4,
     {"ALTER TABLE flows_engine_tokens ADD COLUMN waiting_since INTEGER NOT NULL DEFAULT 0",
      "ALTER TABLE flows_engine_tokens ADD COLUMN waiting_node TEXT NOT NULL DEFAULT ''"},
     {"ALTER TABLE flows_engine_tokens ADD COLUMN waiting_since BIGINT NOT NULL DEFAULT 0",
      "ALTER TABLE flows_engine_tokens ADD COLUMN waiting_node TEXT NOT NULL DEFAULT ''"}},
};

std::string joinGroups(const std::vector<std::string>& groups) {
    std::string out;
    for (const auto& group : groups) out += (out.empty() ? "" : ",") + group;
    return out;
}

Value stringArray(const std::vector<std::string>& values) {
    Value::Array out;
    for (const auto& value : values) out.emplace_back(value);
    return Value(std::move(out));
}

std::vector<std::string> strings(const Value& value) {
    std::vector<std::string> out;
    if (value.isArray())
        for (const auto& item : value.asArray())
            if (item.isString()) out.push_back(item.asString());
    return out;
}

std::int64_t integer(const Value& value) {
    return value.isNumber() ? static_cast<std::int64_t>(value.asNumber()) : 0;
}

std::string text(const Value& value) {
    return value.isString() ? value.asString() : std::string();
}

Wait parseWait(const std::string& name) {
    for (Wait wait : {Wait::Service, Wait::Task, Wait::Message, Wait::Timer, Wait::Join, Wait::Incident})
        if (name == waitName(wait)) return wait;
    throw std::runtime_error("unknown token wait '" + name + "'");
}

InstanceStatus parseStatus(const std::string& name) {
    for (InstanceStatus status :
         {InstanceStatus::Running, InstanceStatus::Completed, InstanceStatus::Terminated, InstanceStatus::Cancelled})
        if (name == statusName(status)) return status;
    throw std::runtime_error("unknown instance status '" + name + "'");
}

}  // namespace

std::string stateToJson(const InstanceState& s) {
    // Integers as JSON numbers: every counter and time here stays below 2^53.
    Value root(Value::Object{});
    root.set("id", s.id);
    root.set("flow_id", s.flowId);
    root.set("version", s.version);
    root.set("status", statusName(s.status));
    root.set("outcome", s.outcome);
    root.set("variables", s.variables);
    Value::Array tokens;
    for (const auto& t : s.tokens) {
        Value token(Value::Object{});
        token.set("id", t.id);
        token.set("element", t.elementId);
        token.set("wait", waitName(t.wait));
        token.set("detail", t.detail);
        token.set("attempt", t.attempt);
        token.set("first_attempt", t.firstAttempt);
        token.set("via", t.via);
        if (!t.correlation.empty()) token.set("correlation", t.correlation);
        tokens.push_back(std::move(token));
    }
    root.set("tokens", Value(std::move(tokens)));
    Value::Array tasks;
    for (const auto& t : s.tasks) {
        Value task(Value::Object{});
        task.set("id", t.id);
        task.set("element", t.elementId);
        task.set("name", t.name);
        task.set("token", t.tokenId);
        task.set("candidate_groups", stringArray(t.candidateGroups));
        task.set("assignee", t.assignee);
        task.set("created_at", t.createdAt);
        tasks.push_back(std::move(task));
    }
    root.set("tasks", Value(std::move(tasks)));
    Value::Array timers;
    for (const auto& t : s.timers) {
        Value timer(Value::Object{});
        timer.set("id", t.id);
        timer.set("element", t.elementId);
        timer.set("token", t.tokenId);
        timer.set("due_at", t.dueAt);
        timer.set("purpose", t.purpose);
        timers.push_back(std::move(timer));
    }
    root.set("timers", Value(std::move(timers)));
    Value::Array incidents;
    for (const auto& i : s.incidents) {
        if (i.resolvedAt != 0) continue;
        Value incident(Value::Object{});
        incident.set("id", i.id);
        incident.set("element", i.elementId);
        incident.set("token", i.tokenId);
        incident.set("message", i.message);
        incident.set("at", i.at);
        incidents.push_back(std::move(incident));
    }
    root.set("incidents", Value(std::move(incidents)));
    Value counters(Value::Object{});
    counters.set("token", s.nextToken);
    counters.set("task", s.nextTask);
    counters.set("timer", s.nextTimer);
    counters.set("incident", s.nextIncident);
    counters.set("history", s.nextHistory);
    counters.set("steps", s.steps);
    root.set("next", counters);
    return root.toJson();
}

InstanceState stateFromJson(const std::string& json) {
    const Value root = Value::fromJson(json);
    InstanceState s;
    s.id = text(root.member("id"));
    s.flowId = text(root.member("flow_id"));
    s.version = static_cast<int>(integer(root.member("version")));
    s.status = parseStatus(text(root.member("status")));
    s.outcome = text(root.member("outcome"));
    s.variables = root.member("variables");
    if (!s.variables.isObject()) s.variables = Value(Value::Object{});
    if (root.member("tokens").isArray())
        for (const auto& t : root.member("tokens").asArray())
            s.tokens.push_back({integer(t.member("id")), text(t.member("element")), parseWait(text(t.member("wait"))),
                                text(t.member("detail")), static_cast<int>(integer(t.member("attempt"))),
                                static_cast<int>(integer(t.member("first_attempt"))), text(t.member("via")),
                                text(t.member("correlation"))});
    if (root.member("tasks").isArray())
        for (const auto& t : root.member("tasks").asArray())
            s.tasks.push_back({text(t.member("id")), text(t.member("element")), text(t.member("name")),
                               integer(t.member("token")), strings(t.member("candidate_groups")),
                               text(t.member("assignee")), integer(t.member("created_at"))});
    if (root.member("timers").isArray())
        for (const auto& t : root.member("timers").asArray())
            s.timers.push_back({text(t.member("id")), text(t.member("element")), integer(t.member("token")),
                                integer(t.member("due_at")), text(t.member("purpose"))});
    if (root.member("incidents").isArray())
        for (const auto& i : root.member("incidents").asArray())
            s.incidents.push_back({text(i.member("id")), text(i.member("element")), integer(i.member("token")),
                                   text(i.member("message")), integer(i.member("at")), 0});
    const Value& next = root.member("next");
    s.nextToken = integer(next.member("token"));
    s.nextTask = integer(next.member("task"));
    s.nextTimer = integer(next.member("timer"));
    s.nextIncident = integer(next.member("incident"));
    s.nextHistory = integer(next.member("history"));
    s.steps = integer(next.member("steps"));
    return s;
}

const std::vector<store::Migration>& EngineStore::migrations() {
    return kMigrations;
}

EngineStore::EngineStore(store::Database& db) : db_(db) {
    db_.migrate("flows_engine", kMigrations);
}

int EngineStore::saveDeployment(Poco::Data::Session& session, const Definition& definition, std::int64_t nowMs) {
    std::string flowId = definition.flowId, hash = definition.sha256;
    std::vector<int> existing;
    session << store::sql(session, "SELECT version FROM flows_engine_deployments WHERE flow_id = ? AND sha256 = ?"),
        use(flowId), use(hash), into(existing), now;
    if (!existing.empty()) return existing.front();
    int latest = 0;
    session << store::sql(session, "SELECT COALESCE(MAX(version), 0) FROM flows_engine_deployments WHERE flow_id = ?"),
        use(flowId), into(latest), now;
    const int version = latest + 1;
    Poco::Int64 at = nowMs;
    session << store::sql(session,
                          "INSERT INTO flows_engine_deployments(flow_id, version, sha256, file, xml, deployed_at)"
                          " VALUES(?, ?, ?, ?, ?, ?)"),
        use(flowId), bind(version), use(hash), bind(definition.file), bind(definition.xml), use(at), now;
    return version;
}

std::optional<std::string> EngineStore::deploymentXml(Poco::Data::Session& session, const std::string& flowId,
                                                      int version) {
    std::vector<std::string> xml;
    session << store::sql(session, "SELECT xml FROM flows_engine_deployments WHERE flow_id = ? AND version = ?"),
        bind(flowId), bind(version), into(xml), now;
    if (xml.empty()) return std::nullopt;
    return xml.front();
}

namespace {

// The statements of a step (load, lock, save), prepared once per connection
// (store::PreparedStatement): each is its own array, so its address is the
// cache's key.
const char kLock[] = "UPDATE flows_engine_instances SET revision = revision WHERE id = ?";
const char kLoad[] = "SELECT state, revision FROM flows_engine_instances WHERE id = ?";
const char kExists[] = "SELECT 1 FROM flows_engine_instances WHERE id = ?";
const char kInsertInstance[] =
    "INSERT INTO flows_engine_instances(id, application_id, flow_id, version, status, outcome, state, steps,"
    " revision, created_at, updated_at) VALUES(?, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?)";
const char kUpdateInstance[] =
    "UPDATE flows_engine_instances SET status = ?, outcome = ?, state = ?, steps = ?, revision = ?, updated_at = ?"
    " WHERE id = ? AND revision = ?";
const char kDeleteTokens[] = "DELETE FROM flows_engine_tokens WHERE instance_id = ?";
const char kDeleteToken[] = "DELETE FROM flows_engine_tokens WHERE instance_id = ? AND token_id = ?";
const char kInsertToken[] =
    "INSERT INTO flows_engine_tokens(instance_id, token_id, element_id, wait, detail, attempt, correlation_key,"
    " waiting_since, waiting_node) VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?)";
const char kUpdateToken[] =
    "UPDATE flows_engine_tokens SET element_id = ?, wait = ?, detail = ?, attempt = ?, correlation_key = ?,"
    " waiting_since = ?, waiting_node = ? WHERE instance_id = ? AND token_id = ?";
const char kDeleteTimers[] = "DELETE FROM flows_engine_timers WHERE instance_id = ?";
const char kDeleteTimer[] = "DELETE FROM flows_engine_timers WHERE id = ?";
const char kInsertTimer[] =
    "INSERT INTO flows_engine_timers(id, instance_id, element_id, due_at, purpose) VALUES(?, ?, ?, ?, ?)";
const char kInsertTask[] =
    "INSERT INTO flows_engine_tasks(id, instance_id, application_id, element_id, name, candidate_groups, assignee,"
    " status, created_at) VALUES(?, ?, ?, ?, ?, ?, ?, 'open', ?)";
const char kCloseTask[] =
    "UPDATE flows_engine_tasks SET status = ?, closed_at = ?, closed_by = ?, decision = ? WHERE id = ?"
    " AND status = 'open'";
const char kInsertHistory[] =
    "INSERT INTO flows_engine_history(instance_id, seq, element_id, event, actor, at, result)"
    " VALUES(?, ?, ?, ?, ?, ?, ?)";
const char kUpsertIncident[] =
    "INSERT INTO flows_engine_incidents(id, instance_id, element_id, message, created_at, resolved_at)"
    " VALUES(?, ?, ?, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET resolved_at = excluded.resolved_at";

bool sameRow(const Token& a, const Token& b) {
    return a.elementId == b.elementId && a.wait == b.wait && a.detail == b.detail && a.attempt == b.attempt &&
           a.correlation == b.correlation;
}

// The hub writing a token row and when: the wait it describes began then,
// there (the hub carries out the step's effects after the commit).
struct WaitBegan {
    std::int64_t at;
    const std::string& node;
};

void insertToken(Poco::Data::Session& session, const std::string& instanceId, const Token& token, WaitBegan began) {
    store::PreparedStatement insert(session, kInsertToken);
    insert.bind(1, instanceId).bind(2, token.id).bind(3, token.elementId).bind(4, waitName(token.wait));
    insert.bind(5, token.detail).bind(6, token.attempt).bind(7, token.correlation).bind(8, began.at);
    insert.bind(9, began.node).execute();
}

// The token rows: only those added, changed or gone since the store last
// wrote or read them (a step moves one token or two of many).
void writeTokens(Poco::Data::Session& session, const InstanceState& state, WaitBegan began) {
    if (!state.stored.known) {
        if (state.revision != 0) store::PreparedStatement(session, kDeleteTokens).bind(1, state.id).execute();
        for (const auto& token : state.tokens) insertToken(session, state.id, token, began);
        return;
    }
    for (const auto& old : state.stored.tokens) {
        const bool kept = std::any_of(state.tokens.begin(), state.tokens.end(),
                                      [&](const Token& t) { return t.id == old.id; });
        if (!kept) store::PreparedStatement(session, kDeleteToken).bind(1, state.id).bind(2, old.id).execute();
    }
    for (const auto& token : state.tokens) {
        auto old = std::find_if(state.stored.tokens.begin(), state.stored.tokens.end(),
                                [&](const Token& t) { return t.id == token.id; });
        if (old == state.stored.tokens.end()) {
            insertToken(session, state.id, token, began);
        } else if (!sameRow(*old, token)) {
            store::PreparedStatement update(session, kUpdateToken);
            update.bind(1, token.elementId).bind(2, waitName(token.wait)).bind(3, token.detail).bind(4, token.attempt);
            update.bind(5, token.correlation).bind(6, began.at).bind(7, began.node).bind(8, state.id);
            update.bind(9, token.id).execute();
        }
    }
}

void insertTimer(Poco::Data::Session& session, const std::string& instanceId, const Timer& timer) {
    store::PreparedStatement insert(session, kInsertTimer);
    insert.bind(1, timer.id).bind(2, instanceId).bind(3, timer.elementId).bind(4, timer.dueAt);
    insert.bind(5, timer.purpose).execute();
}

// Timer rows never change: those armed since are added, those gone deleted.
void writeTimers(Poco::Data::Session& session, const InstanceState& state) {
    if (!state.stored.known) {
        if (state.revision != 0) store::PreparedStatement(session, kDeleteTimers).bind(1, state.id).execute();
        for (const auto& timer : state.timers) insertTimer(session, state.id, timer);
        return;
    }
    const auto& before = state.stored.timerIds;
    for (const auto& id : before) {
        const bool kept = std::any_of(state.timers.begin(), state.timers.end(),
                                      [&](const Timer& t) { return t.id == id; });
        if (!kept) store::PreparedStatement(session, kDeleteTimer).bind(1, id).execute();
    }
    for (const auto& timer : state.timers)
        if (std::find(before.begin(), before.end(), timer.id) == before.end()) insertTimer(session, state.id, timer);
}

void remember(InstanceState& state) {
    state.stored.known = true;
    state.stored.tokens = state.tokens;
    state.stored.timerIds.clear();
    for (const auto& timer : state.timers) state.stored.timerIds.push_back(timer.id);
}

}  // namespace

void EngineStore::lockInstance(Poco::Data::Session& session, const std::string& instanceId) {
    store::PreparedStatement(session, kLock).bind(1, instanceId).execute();
}

void EngineStore::save(Poco::Data::Session& session, InstanceState& state, const std::vector<Effect>& effects,
                       const std::string& applicationId, std::int64_t nowMs) {
    const std::string json = stateToJson(state);
    const std::string status = statusName(state.status);
    if (state.revision == 0) {
        {
            store::PreparedStatement exists(session, kExists);
            if (exists.bind(1, state.id).next()) throw InstanceConflict("instance " + state.id + " exists already");
        }
        store::PreparedStatement insert(session, kInsertInstance);
        insert.bind(1, state.id).bind(2, applicationId).bind(3, state.flowId).bind(4, state.version);
        insert.bind(5, status).bind(6, state.outcome).bind(7, json).bind(8, state.steps).bind(9, nowMs);
        insert.bind(10, nowMs).execute();
    } else {
        store::PreparedStatement update(session, kUpdateInstance);
        update.bind(1, status).bind(2, state.outcome).bind(3, json).bind(4, state.steps).bind(5, state.revision + 1);
        update.bind(6, nowMs).bind(7, state.id).bind(8, state.revision);
        if (update.execute() == 0)
            throw InstanceConflict("instance " + state.id + " changed since revision " +
                                   std::to_string(state.revision));
    }
    writeTokens(session, state, WaitBegan{nowMs, db_.nodeId()});
    writeTimers(session, state);
    for (const auto& effect : effects) {
        if (effect.kind == Effect::Kind::CreateTask) {
            for (const auto& task : state.tasks) {
                if (task.id != effect.id) continue;
                store::PreparedStatement insert(session, kInsertTask);
                insert.bind(1, task.id).bind(2, state.id).bind(3, applicationId).bind(4, task.elementId);
                insert.bind(5, task.name).bind(6, joinGroups(task.candidateGroups)).bind(7, task.assignee);
                insert.bind(8, task.createdAt).execute();
            }
        } else if (effect.kind == Effect::Kind::CompleteTask || effect.kind == Effect::Kind::CancelTask) {
            store::PreparedStatement close(session, kCloseTask);
            close.bind(1, effect.kind == Effect::Kind::CompleteTask ? "completed" : "cancelled").bind(2, nowMs);
            close.bind(3, effect.actor).bind(4, effect.message).bind(5, effect.id).execute();
        }
    }
    for (const auto& entry : state.history) {
        store::PreparedStatement insert(session, kInsertHistory);
        insert.bind(1, state.id).bind(2, entry.seq).bind(3, entry.elementId).bind(4, entry.event);
        insert.bind(5, entry.actor).bind(6, entry.at).bind(7, entry.result).execute();
    }
    for (const auto& incident : state.incidents) {
        store::PreparedStatement upsert(session, kUpsertIncident);
        upsert.bind(1, incident.id).bind(2, state.id).bind(3, incident.elementId).bind(4, incident.message);
        upsert.bind(5, incident.at).bind(6, incident.resolvedAt).execute();
    }
    state.revision += 1;
    state.history.clear();
    std::erase_if(state.incidents, [](const Incident& incident) { return incident.resolvedAt != 0; });
    remember(state);
}

std::optional<InstanceState> EngineStore::load(Poco::Data::Session& session, const std::string& instanceId) {
    store::PreparedStatement select(session, kLoad);
    if (!select.bind(1, instanceId).next()) return std::nullopt;
    InstanceState state = stateFromJson(select.text(0));
    state.revision = select.integer(1);
    remember(state);
    return state;
}

std::optional<std::string> EngineStore::instanceOf(Poco::Data::Session& session, const std::string& applicationId) {
    std::vector<std::string> ids;
    session << store::sql(session,
                          "SELECT id FROM flows_engine_instances WHERE application_id = ? ORDER BY created_at"),
        bind(applicationId), into(ids), now;
    if (ids.empty()) return std::nullopt;
    return ids.front();
}

std::vector<std::string> EngineStore::messageWaiters(Poco::Data::Session& session, const std::string& name,
                                                     const std::string& correlationKey) {
    std::vector<std::string> ids;
    session << store::sql(session,
                          "SELECT DISTINCT instance_id FROM flows_engine_tokens WHERE wait = 'message' AND detail = ?"
                          " AND correlation_key = ? ORDER BY instance_id"),
        bind(name), bind(correlationKey), into(ids), now;
    return ids;
}

bool EngineStore::insertMessage(Poco::Data::Session& session, const StoredMessage& m) {
    // One write, no read before it: a transaction that read first could not
    // take the write lock once another writer committed (SQLITE_BUSY at once).
    Poco::Int64 created = m.createdAt, expires = m.expiresAt;
    Poco::Data::Statement insert(session);
    insert << store::sql(
        session,
        "INSERT INTO flows_engine_messages(id, name, correlation_key, application_id, variables, actor,"
        " status, instance_id, created_at, expires_at) VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        " ON CONFLICT(id) DO NOTHING"),
        bind(m.id), bind(m.name), bind(m.correlationKey), bind(m.applicationId), bind(m.variables), bind(m.actor),
        bind(m.status), bind(m.instanceId), use(created), use(expires);
    return insert.execute() == 1;
}

namespace {

const char* kMessageColumns =
    "SELECT id, name, correlation_key, application_id, variables, actor, status, instance_id, created_at, expires_at"
    " FROM flows_engine_messages ";

std::optional<StoredMessage> firstMessage(Poco::Data::Statement& select) {
    Poco::Data::RecordSet rs(select);
    if (rs.rowCount() == 0) return std::nullopt;
    auto column = [&](std::size_t c) { return rs.value(c, 0).convert<std::string>(); };
    return StoredMessage{column(0), column(1), column(2), column(3), column(4), column(5), column(6), column(7),
                         rs.value(8, 0).convert<std::int64_t>(), rs.value(9, 0).convert<std::int64_t>()};
}

}  // namespace

std::optional<StoredMessage> EngineStore::message(Poco::Data::Session& session, const std::string& id) {
    Poco::Data::Statement select(session);
    select << store::sql(session, std::string(kMessageColumns) + "WHERE id = ?"), bind(id), now;
    return firstMessage(select);
}

std::optional<StoredMessage> EngineStore::keptMessageFor(Poco::Data::Session& session, const std::string& name,
                                                         const std::string& correlationKey,
                                                         const std::string& applicationId, std::int64_t nowMs) {
    Poco::Data::Statement select(session);
    Poco::Int64 at = nowMs;
    select << store::sql(
        session,
        std::string(kMessageColumns) +
            "WHERE status = 'buffered' AND name = ? AND expires_at > ? AND ((? <> '' AND correlation_key = ?"
            " AND (application_id = '' OR application_id = ?)) OR (correlation_key = '' AND application_id = ?))"
            " ORDER BY created_at, id LIMIT 1"),
        bind(name), use(at), bind(correlationKey), bind(correlationKey), bind(applicationId), bind(applicationId), now;
    return firstMessage(select);
}

bool EngineStore::markMessageDelivered(Poco::Data::Session& session, const std::string& id,
                                       const std::string& instanceId) {
    Poco::Data::Statement update(session);
    update << store::sql(session,
                         "UPDATE flows_engine_messages SET status = 'delivered', instance_id = ? WHERE id = ?"
                         " AND status = 'buffered'"),
        bind(instanceId), bind(id);
    return update.execute() == 1;
}

std::vector<std::string> EngineStore::instancesWaitingForKept(Poco::Data::Session& session, std::int64_t nowMs,
                                                              const std::string& messageId) {
    std::vector<std::string> ids;
    Poco::Int64 at = nowMs;
    session << store::sql(
        session,
        "SELECT DISTINCT t.instance_id FROM flows_engine_tokens t"
        " JOIN flows_engine_instances i ON i.id = t.instance_id"
        " JOIN flows_engine_messages m ON m.name = t.detail"
        " WHERE t.wait = 'message' AND m.status = 'buffered' AND m.expires_at > ? AND (? = '' OR m.id = ?)"
        " AND ((t.correlation_key <> '' AND m.correlation_key = t.correlation_key"
        " AND (m.application_id = '' OR m.application_id = i.application_id))"
        " OR (m.correlation_key = '' AND m.application_id = i.application_id))"
        " ORDER BY t.instance_id"),
        use(at), bind(messageId), bind(messageId), into(ids), now;
    return ids;
}

std::uint64_t EngineStore::expireMessages(Poco::Data::Session& session, std::int64_t nowMs) {
    Poco::Int64 at = nowMs, due = 0;
    // A read first: nothing to drop writes nothing (a read-only store still starts).
    session << store::sql(session, "SELECT COUNT(*) FROM flows_engine_messages WHERE expires_at <= ?"), use(at),
        into(due), now;
    if (due == 0) return 0;
    Poco::Data::Statement kept(session);
    kept << store::sql(session, "DELETE FROM flows_engine_messages WHERE expires_at <= ? AND status = 'buffered'"),
        use(at);
    const auto dropped = kept.execute();
    session << store::sql(session, "DELETE FROM flows_engine_messages WHERE expires_at <= ?"), use(at), now;
    return dropped;
}

std::uint64_t EngineStore::keptMessages(Poco::Data::Session& session, std::int64_t nowMs) {
    Poco::Int64 at = nowMs, count = 0;
    session << store::sql(session,
                          "SELECT COUNT(*) FROM flows_engine_messages WHERE status = 'buffered' AND expires_at > ?"),
        use(at), into(count), now;
    return static_cast<std::uint64_t>(count);
}

std::optional<std::string> EngineStore::applicationOf(Poco::Data::Session& session, const std::string& instanceId) {
    std::vector<std::string> ids;
    session << store::sql(session, "SELECT application_id FROM flows_engine_instances WHERE id = ?"), bind(instanceId),
        into(ids), now;
    if (ids.empty()) return std::nullopt;
    return ids.front();
}

std::vector<StoredTimer> EngineStore::dueTimers(Poco::Data::Session& session, std::int64_t nowMs, std::size_t limit) {
    Poco::Data::Statement select(session);
    Poco::Int64 at = nowMs, max = static_cast<Poco::Int64>(limit);
    select << store::sql(session,
                         "SELECT id, instance_id, element_id, due_at FROM flows_engine_timers WHERE due_at <= ?"
                         " ORDER BY due_at, id LIMIT ?"),
        use(at), use(max), now;
    Poco::Data::RecordSet rs(select);
    std::vector<StoredTimer> out;
    for (std::size_t row = 0; row < rs.rowCount(); ++row)
        out.push_back({rs.value(0, row).convert<std::string>(), rs.value(1, row).convert<std::string>(),
                       rs.value(2, row).convert<std::string>(), rs.value(3, row).convert<std::int64_t>()});
    return out;
}

namespace {

std::vector<PendingCall> readCalls(Poco::Data::Statement& select) {
    select.execute();
    Poco::Data::RecordSet rs(select);
    std::vector<PendingCall> out;
    for (std::size_t row = 0; row < rs.rowCount(); ++row)
        out.push_back({rs.value(0, row).convert<std::string>(), rs.value(1, row).convert<std::string>(),
                       rs.value(2, row).convert<std::string>(), rs.value(3, row).convert<int>(),
                       rs.value(4, row).convert<std::int64_t>(), rs.value(5, row).convert<std::string>()});
    return out;
}

const char kCallColumns[] = "SELECT instance_id, element_id, detail, attempt, waiting_since, waiting_node";

}  // namespace

std::vector<PendingCall> EngineStore::pendingCalls(Poco::Data::Session& session) {
    Poco::Data::Statement select(session);
    select << std::string(kCallColumns) +
                  " FROM flows_engine_tokens WHERE wait = 'service' ORDER BY instance_id, token_id";
    return readCalls(select);
}

std::vector<PendingCall> EngineStore::orphanedCalls(Poco::Data::Session& session, std::int64_t waitingBefore,
                                                    const std::string& nodeLeasePrefix, const std::string& ownNode) {
    // A hub is live while its lease row (store_leases, the database's clock)
    // has not expired.
    const std::string clock = store::dialectOf(session) == store::Dialect::PostgreSql
                                  ? "(extract(epoch from clock_timestamp()) * 1000)::bigint"
                                  : "CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)";
    Poco::Int64 before = waitingBefore;
    std::string prefix = nodeLeasePrefix, own = ownNode;
    Poco::Data::Statement select(session);
    select << store::sql(session, std::string(kCallColumns) +
                                      " FROM flows_engine_tokens t WHERE wait = 'service' AND (waiting_since < ?"
                                      " OR waiting_node = ? OR NOT EXISTS (SELECT 1 FROM store_leases l"
                                      " WHERE l.name = CAST(? AS TEXT) || t.waiting_node AND l.expires_at_ms >= " +
                                      clock + ")) ORDER BY instance_id, token_id"),
        use(before), use(own), use(prefix);
    return readCalls(select);
}

bool EngineStore::claimCall(Poco::Data::Session& session, const PendingCall& call, std::int64_t nowMs) {
    Poco::Int64 at = nowMs, since = call.waitingSince;
    std::string node = db_.nodeId(), instance = call.instanceId, key = call.key, was = call.waitingNode;
    Poco::Data::Statement update(session);
    update << store::sql(session,
                         "UPDATE flows_engine_tokens SET waiting_since = ?, waiting_node = ? WHERE instance_id = ?"
                         " AND wait = 'service' AND detail = ? AND waiting_since = ? AND waiting_node = ?"),
        use(at), use(node), use(instance), use(key), use(since), use(was);
    return update.execute() == 1;
}

namespace {

// The tasks an executed SELECT of a task's nine columns (as openTasks names them) found, in order.
std::vector<StoredTask> tasksOf(Poco::Data::Statement& select) {
    Poco::Data::RecordSet rs(select);
    std::vector<StoredTask> out;
    for (std::size_t row = 0; row < rs.rowCount(); ++row) {
        auto column = [&](std::size_t c) { return rs.value(c, row).convert<std::string>(); };
        out.push_back({column(0), column(1), column(2), column(3), column(4), column(5), column(6), column(7),
                       rs.value(8, row).convert<std::int64_t>()});
    }
    return out;
}

}  // namespace

std::vector<StoredTask> EngineStore::openTasks(Poco::Data::Session& session) {
    Poco::Data::Statement select(session);
    select << "SELECT id, instance_id, application_id, element_id, name, candidate_groups, assignee, claimed_by,"
              " created_at FROM flows_engine_tasks WHERE status = 'open' ORDER BY created_at, id",
        now;
    return tasksOf(select);
}

namespace {

// A LIKE pattern that finds `group` as one element of ",a,b,": its wildcards
// escaped with '!' (the same escape on both dialects; a backslash is not).
std::string groupPattern(const std::string& group) {
    std::string out = "%,";
    for (char c : group) {
        if (c == '%' || c == '_' || c == '!') out += '!';
        out += c;
    }
    return out + ",%";
}

}  // namespace

std::vector<StoredTask> EngineStore::openTasksFor(Poco::Data::Session& session, const TaskSelection& selection) {
    std::string sql = "SELECT id, instance_id, application_id, element_id, name, candidate_groups, assignee,"
                      " claimed_by, created_at FROM flows_engine_tasks WHERE status = 'open'";
    std::vector<std::string> params;
    if (!selection.everyTask) {
        // Who may act on it: the assignee, a member of a candidate group, or an
        // admin of the application's department. candidate_groups is "a,b" (the
        // engine trims each group and joins them with a comma).
        std::string who;
        auto term = [&](const std::string& text) { who += (who.empty() ? "" : " OR ") + text; };
        if (!selection.assignee.empty()) {
            term("assignee = ?");
            params.push_back(selection.assignee);
        }
        for (const auto& group : selection.groups) {
            if (group.empty() || group.find(',') != std::string::npos) continue;  // never one of a task's groups
            term("',' || candidate_groups || ',' LIKE ? ESCAPE '!'");
            params.push_back(groupPattern(group));
        }
        if (!selection.adminOf.empty()) {
            std::string in;
            for (const auto& department : selection.adminOf) {
                in += in.empty() ? "?" : ", ?";
                params.push_back(department);
            }
            term("application_id IN (SELECT id FROM flows_applications WHERE department IN (" + in + "))");
        }
        if (who.empty()) return {};
        sql += " AND (" + who + ")";
    }
    if (!selection.applicationId.empty()) {
        sql += " AND application_id = ?";
        params.push_back(selection.applicationId);
    }
    if (!selection.department.empty()) {
        sql += " AND application_id IN (SELECT id FROM flows_applications WHERE department = ?)";
        params.push_back(selection.department);
    }
    if (!selection.itemId.empty()) {
        sql += " AND application_id IN (SELECT id FROM flows_applications WHERE item_id = ?)";
        params.push_back(selection.itemId);
    }
    sql += " ORDER BY created_at, id";
    Poco::Data::Statement select(session);
    select << store::sql(session, sql);
    for (auto& param : params) select, use(param);
    select.execute();
    return tasksOf(select);
}

std::optional<StoredTask> EngineStore::openTask(Poco::Data::Session& session, const std::string& taskId) {
    Poco::Data::Statement select(session);
    select << store::sql(session, "SELECT id, instance_id, application_id, element_id, name, candidate_groups, assignee,"
                                  " claimed_by, created_at FROM flows_engine_tasks WHERE id = ? AND status = 'open'"),
        bind(taskId), now;
    Poco::Data::RecordSet rs(select);
    if (rs.rowCount() == 0) return std::nullopt;
    auto column = [&](std::size_t c) { return rs.value(c, 0).convert<std::string>(); };
    return StoredTask{column(0), column(1), column(2), column(3), column(4), column(5), column(6), column(7),
                      rs.value(8, 0).convert<std::int64_t>()};
}

std::vector<StoredIncident> EngineStore::openIncidents(Poco::Data::Session& session) {
    Poco::Data::Statement select(session);
    select << "SELECT id, instance_id, element_id, message, created_at FROM flows_engine_incidents"
              " WHERE resolved_at = 0 ORDER BY created_at, id",
        now;
    Poco::Data::RecordSet rs(select);
    std::vector<StoredIncident> out;
    for (std::size_t row = 0; row < rs.rowCount(); ++row) {
        auto column = [&](std::size_t c) { return rs.value(c, row).convert<std::string>(); };
        out.push_back({column(0), column(1), column(2), column(3), rs.value(4, row).convert<std::int64_t>()});
    }
    return out;
}

bool EngineStore::claimTask(Poco::Data::Session& session, const std::string& taskId, const std::string& user) {
    Poco::Data::Statement claim(session);
    claim << store::sql(session,
                        "UPDATE flows_engine_tasks SET claimed_by = ? WHERE id = ? AND status = 'open'"
                        " AND (claimed_by = '' OR claimed_by = ?)"),
        bind(user), bind(taskId), bind(user);
    return claim.execute() == 1;
}

bool EngineStore::unclaimTask(Poco::Data::Session& session, const std::string& taskId, const std::string& user,
                              bool force) {
    Poco::Data::Statement unclaim(session);
    if (force) {
        unclaim << store::sql(session,
                              "UPDATE flows_engine_tasks SET claimed_by = '' WHERE id = ? AND status = 'open'"),
            bind(taskId);
    } else {
        unclaim << store::sql(
            session,
            "UPDATE flows_engine_tasks SET claimed_by = '' WHERE id = ? AND status = 'open' AND claimed_by = ?"),
            bind(taskId), bind(user);
    }
    return unclaim.execute() == 1;
}

std::vector<HistoryEntry> EngineStore::history(Poco::Data::Session& session, const std::string& instanceId) {
    Poco::Data::Statement select(session);
    std::string id = instanceId;
    select << store::sql(
        session,
        "SELECT seq, element_id, event, actor, at, result FROM flows_engine_history WHERE instance_id = ?"
        " ORDER BY seq"),
        use(id), now;
    Poco::Data::RecordSet rs(select);
    std::vector<HistoryEntry> out;
    for (std::size_t row = 0; row < rs.rowCount(); ++row)
        out.push_back({rs.value(0, row).convert<std::int64_t>(), rs.value(1, row).convert<std::string>(),
                       rs.value(2, row).convert<std::string>(), rs.value(3, row).convert<std::string>(),
                       rs.value(4, row).convert<std::int64_t>(), rs.value(5, row).convert<std::string>()});
    return out;
}

}  // namespace hub::flows::engine
