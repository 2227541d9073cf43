// The engine's tables. The instance row holds the whole state as JSON (what
// load() reads back, one row); tokens, timers, tasks, history and incidents
// are kept as rows beside it for the queries the hub makes across instances
// (due timers, calls out on start, the clerks' to-do list, the applicant's
// diagram, the admins' incidents). Times are milliseconds since the epoch.
#include "hub/flows/engine/EngineStore.h"

#include <Poco/Data/RecordSet.h>
#include <Poco/Data/Statement.h>

using namespace Poco::Data::Keywords;

namespace hub::flows::engine {

namespace {

const std::vector<store::Migration> kMigrations = {
    {1,
     {"CREATE TABLE flows_engine_deployments ("
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
      "CREATE INDEX flows_engine_incidents_open ON flows_engine_incidents(resolved_at)"}},
    // Message waits by name and correlation key (a message published to the hub
    // finds the instances that wait for it).
    {2,
     {"ALTER TABLE flows_engine_tokens ADD COLUMN correlation_key TEXT NOT NULL DEFAULT ''",
      "CREATE INDEX flows_engine_tokens_message ON flows_engine_tokens(wait, detail, correlation_key)"}},
    // Messages that came before their wait, kept for a time-to-live, and the
    // ids of delivered ones as long (duplicates).
    {3,
     {"CREATE TABLE flows_engine_messages ("
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
      "CREATE INDEX flows_engine_messages_expiry ON flows_engine_messages(expires_at)"}},
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
    session << "SELECT version FROM flows_engine_deployments WHERE flow_id = ? AND sha256 = ?", use(flowId), use(hash),
        into(existing), now;
    if (!existing.empty()) return existing.front();
    int latest = 0;
    session << "SELECT COALESCE(MAX(version), 0) FROM flows_engine_deployments WHERE flow_id = ?", use(flowId),
        into(latest), now;
    const int version = latest + 1;
    Poco::Int64 at = nowMs;
    session << "INSERT INTO flows_engine_deployments(flow_id, version, sha256, file, xml, deployed_at)"
               " VALUES(?, ?, ?, ?, ?, ?)",
        use(flowId), bind(version), use(hash), bind(definition.file), bind(definition.xml), use(at), now;
    return version;
}

std::optional<std::string> EngineStore::deploymentXml(Poco::Data::Session& session, const std::string& flowId,
                                                      int version) {
    std::vector<std::string> xml;
    session << "SELECT xml FROM flows_engine_deployments WHERE flow_id = ? AND version = ?", bind(flowId),
        bind(version), into(xml), now;
    if (xml.empty()) return std::nullopt;
    return xml.front();
}

void EngineStore::save(Poco::Data::Session& session, InstanceState& state, const std::vector<Effect>& effects,
                       const std::string& applicationId, std::int64_t nowMs) {
    std::string json = stateToJson(state);
    std::string status = statusName(state.status);
    Poco::Int64 at = nowMs, steps = state.steps, revision = state.revision, next = state.revision + 1;
    if (state.revision == 0) {
        std::vector<std::string> found;
        session << "SELECT id FROM flows_engine_instances WHERE id = ?", use(state.id), into(found), now;
        if (!found.empty()) throw InstanceConflict("instance " + state.id + " exists already");
        session << "INSERT INTO flows_engine_instances(id, application_id, flow_id, version, status, outcome, state,"
                   " steps, revision, created_at, updated_at) VALUES(?, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?)",
            use(state.id), bind(applicationId), use(state.flowId), use(state.version), use(status), use(state.outcome),
            use(json), use(steps), use(at), use(at), now;
    } else {
        Poco::Data::Statement update(session);
        update << "UPDATE flows_engine_instances SET status = ?, outcome = ?, state = ?, steps = ?, revision = ?,"
                  " updated_at = ? WHERE id = ? AND revision = ?",
            use(status), use(state.outcome), use(json), use(steps), use(next), use(at), use(state.id), use(revision);
        if (update.execute() == 0)
            throw InstanceConflict("instance " + state.id + " changed since revision " + std::to_string(revision));
    }

    session << "DELETE FROM flows_engine_tokens WHERE instance_id = ?", use(state.id), now;
    for (const auto& token : state.tokens) {
        Poco::Int64 id = token.id;
        session << "INSERT INTO flows_engine_tokens(instance_id, token_id, element_id, wait, detail, attempt,"
                   " correlation_key) VALUES(?, ?, ?, ?, ?, ?, ?)",
            use(state.id), use(id), bind(token.elementId), bind(std::string(waitName(token.wait))), bind(token.detail),
            bind(token.attempt), bind(token.correlation), now;
    }
    session << "DELETE FROM flows_engine_timers WHERE instance_id = ?", use(state.id), now;
    for (const auto& timer : state.timers) {
        Poco::Int64 due = timer.dueAt;
        session << "INSERT INTO flows_engine_timers(id, instance_id, element_id, due_at, purpose) VALUES(?, ?, ?, ?, ?)",
            bind(timer.id), use(state.id), bind(timer.elementId), use(due), bind(timer.purpose), now;
    }
    for (const auto& effect : effects) {
        if (effect.kind == Effect::Kind::CreateTask) {
            for (const auto& task : state.tasks) {
                if (task.id != effect.id) continue;
                Poco::Int64 created = task.createdAt;
                session << "INSERT INTO flows_engine_tasks(id, instance_id, application_id, element_id, name,"
                           " candidate_groups, assignee, status, created_at) VALUES(?, ?, ?, ?, ?, ?, ?, 'open', ?)",
                    bind(task.id), use(state.id), bind(applicationId), bind(task.elementId), bind(task.name),
                    bind(joinGroups(task.candidateGroups)), bind(task.assignee), use(created), now;
            }
        } else if (effect.kind == Effect::Kind::CompleteTask || effect.kind == Effect::Kind::CancelTask) {
            const std::string closed = effect.kind == Effect::Kind::CompleteTask ? "completed" : "cancelled";
            session << "UPDATE flows_engine_tasks SET status = ?, closed_at = ?, closed_by = ?, decision = ?"
                       " WHERE id = ? AND status = 'open'",
                bind(closed), use(at), bind(effect.actor), bind(effect.message), bind(effect.id), now;
        }
    }
    for (const auto& entry : state.history) {
        Poco::Int64 seq = entry.seq, when = entry.at;
        session << "INSERT INTO flows_engine_history(instance_id, seq, element_id, event, actor, at, result)"
                   " VALUES(?, ?, ?, ?, ?, ?, ?)",
            use(state.id), use(seq), bind(entry.elementId), bind(entry.event), bind(entry.actor), use(when),
            bind(entry.result), now;
    }
    for (const auto& incident : state.incidents) {
        Poco::Int64 created = incident.at, resolved = incident.resolvedAt;
        session << "INSERT INTO flows_engine_incidents(id, instance_id, element_id, message, created_at, resolved_at)"
                   " VALUES(?, ?, ?, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET resolved_at = excluded.resolved_at",
            bind(incident.id), use(state.id), bind(incident.elementId), bind(incident.message), use(created),
            use(resolved), now;
    }
    state.revision += 1;
    state.history.clear();
    std::erase_if(state.incidents, [](const Incident& incident) { return incident.resolvedAt != 0; });
}

std::optional<InstanceState> EngineStore::load(Poco::Data::Session& session, const std::string& instanceId) {
    std::vector<std::string> json;
    std::vector<Poco::Int64> revision;
    session << "SELECT state, revision FROM flows_engine_instances WHERE id = ?", bind(instanceId), into(json),
        into(revision), now;
    if (json.empty()) return std::nullopt;
    InstanceState state = stateFromJson(json.front());
    state.revision = revision.front();
    return state;
}

std::optional<std::string> EngineStore::instanceOf(Poco::Data::Session& session, const std::string& applicationId) {
    std::vector<std::string> ids;
    session << "SELECT id FROM flows_engine_instances WHERE application_id = ? ORDER BY created_at",
        bind(applicationId), into(ids), now;
    if (ids.empty()) return std::nullopt;
    return ids.front();
}

std::vector<std::string> EngineStore::messageWaiters(Poco::Data::Session& session, const std::string& name,
                                                     const std::string& correlationKey) {
    std::vector<std::string> ids;
    session << "SELECT DISTINCT instance_id FROM flows_engine_tokens WHERE wait = 'message' AND detail = ?"
               " AND correlation_key = ? ORDER BY instance_id",
        bind(name), bind(correlationKey), into(ids), now;
    return ids;
}

bool EngineStore::insertMessage(Poco::Data::Session& session, const StoredMessage& m) {
    // One write, no read before it: a transaction that read first could not
    // take the write lock once another writer committed (SQLITE_BUSY at once).
    Poco::Int64 created = m.createdAt, expires = m.expiresAt;
    Poco::Data::Statement insert(session);
    insert << "INSERT INTO flows_engine_messages(id, name, correlation_key, application_id, variables, actor,"
              " status, instance_id, created_at, expires_at) VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
              " ON CONFLICT(id) DO NOTHING",
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
    select << std::string(kMessageColumns) + "WHERE id = ?", bind(id), now;
    return firstMessage(select);
}

std::optional<StoredMessage> EngineStore::keptMessageFor(Poco::Data::Session& session, const std::string& name,
                                                         const std::string& correlationKey,
                                                         const std::string& applicationId, std::int64_t nowMs) {
    Poco::Data::Statement select(session);
    Poco::Int64 at = nowMs;
    select << std::string(kMessageColumns) +
                  "WHERE status = 'buffered' AND name = ? AND expires_at > ? AND ((? <> '' AND correlation_key = ?"
                  " AND (application_id = '' OR application_id = ?)) OR (correlation_key = '' AND application_id = ?))"
                  " ORDER BY created_at, id LIMIT 1",
        bind(name), use(at), bind(correlationKey), bind(correlationKey), bind(applicationId), bind(applicationId), now;
    return firstMessage(select);
}

bool EngineStore::markMessageDelivered(Poco::Data::Session& session, const std::string& id,
                                       const std::string& instanceId) {
    Poco::Data::Statement update(session);
    update << "UPDATE flows_engine_messages SET status = 'delivered', instance_id = ? WHERE id = ?"
              " AND status = 'buffered'",
        bind(instanceId), bind(id);
    return update.execute() == 1;
}

std::vector<std::string> EngineStore::instancesWaitingForKept(Poco::Data::Session& session, std::int64_t nowMs,
                                                              const std::string& messageId) {
    std::vector<std::string> ids;
    Poco::Int64 at = nowMs;
    session << "SELECT DISTINCT t.instance_id FROM flows_engine_tokens t"
               " JOIN flows_engine_instances i ON i.id = t.instance_id"
               " JOIN flows_engine_messages m ON m.name = t.detail"
               " WHERE t.wait = 'message' AND m.status = 'buffered' AND m.expires_at > ? AND (? = '' OR m.id = ?)"
               " AND ((t.correlation_key <> '' AND m.correlation_key = t.correlation_key"
               " AND (m.application_id = '' OR m.application_id = i.application_id))"
               " OR (m.correlation_key = '' AND m.application_id = i.application_id))"
               " ORDER BY t.instance_id",
        use(at), bind(messageId), bind(messageId), into(ids), now;
    return ids;
}

std::uint64_t EngineStore::expireMessages(Poco::Data::Session& session, std::int64_t nowMs) {
    Poco::Int64 at = nowMs;
    Poco::Data::Statement kept(session);
    kept << "DELETE FROM flows_engine_messages WHERE expires_at <= ? AND status = 'buffered'", use(at);
    const auto dropped = kept.execute();
    session << "DELETE FROM flows_engine_messages WHERE expires_at <= ?", use(at), now;
    return dropped;
}

std::uint64_t EngineStore::keptMessages(Poco::Data::Session& session, std::int64_t nowMs) {
    Poco::Int64 at = nowMs, count = 0;
    session << "SELECT COUNT(*) FROM flows_engine_messages WHERE status = 'buffered' AND expires_at > ?", use(at),
        into(count), now;
    return static_cast<std::uint64_t>(count);
}

std::optional<std::string> EngineStore::applicationOf(Poco::Data::Session& session, const std::string& instanceId) {
    std::vector<std::string> ids;
    session << "SELECT application_id FROM flows_engine_instances WHERE id = ?", bind(instanceId), into(ids), now;
    if (ids.empty()) return std::nullopt;
    return ids.front();
}

std::vector<StoredTimer> EngineStore::dueTimers(Poco::Data::Session& session, std::int64_t nowMs, std::size_t limit) {
    Poco::Data::Statement select(session);
    Poco::Int64 at = nowMs, max = static_cast<Poco::Int64>(limit);
    select << "SELECT id, instance_id, element_id, due_at FROM flows_engine_timers WHERE due_at <= ?"
              " ORDER BY due_at, id LIMIT ?",
        use(at), use(max), now;
    Poco::Data::RecordSet rs(select);
    std::vector<StoredTimer> out;
    for (std::size_t row = 0; row < rs.rowCount(); ++row)
        out.push_back({rs.value(0, row).convert<std::string>(), rs.value(1, row).convert<std::string>(),
                       rs.value(2, row).convert<std::string>(), rs.value(3, row).convert<std::int64_t>()});
    return out;
}

std::vector<PendingCall> EngineStore::pendingCalls(Poco::Data::Session& session) {
    Poco::Data::Statement select(session);
    select << "SELECT instance_id, element_id, detail, attempt FROM flows_engine_tokens WHERE wait = 'service'"
              " ORDER BY instance_id, token_id",
        now;
    Poco::Data::RecordSet rs(select);
    std::vector<PendingCall> out;
    for (std::size_t row = 0; row < rs.rowCount(); ++row)
        out.push_back({rs.value(0, row).convert<std::string>(), rs.value(1, row).convert<std::string>(),
                       rs.value(2, row).convert<std::string>(), rs.value(3, row).convert<int>()});
    return out;
}

std::vector<StoredTask> EngineStore::openTasks(Poco::Data::Session& session) {
    Poco::Data::Statement select(session);
    select << "SELECT id, instance_id, application_id, element_id, name, candidate_groups, assignee, claimed_by,"
              " created_at FROM flows_engine_tasks WHERE status = 'open' ORDER BY created_at, id",
        now;
    Poco::Data::RecordSet rs(select);
    std::vector<StoredTask> out;
    for (std::size_t row = 0; row < rs.rowCount(); ++row) {
        auto column = [&](std::size_t c) { return rs.value(c, row).convert<std::string>(); };
        out.push_back({column(0), column(1), column(2), column(3), column(4), column(5), column(6), column(7),
                       rs.value(8, row).convert<std::int64_t>()});
    }
    return out;
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
    claim << "UPDATE flows_engine_tasks SET claimed_by = ? WHERE id = ? AND status = 'open'"
             " AND (claimed_by = '' OR claimed_by = ?)",
        bind(user), bind(taskId), bind(user);
    return claim.execute() == 1;
}

bool EngineStore::unclaimTask(Poco::Data::Session& session, const std::string& taskId, const std::string& user,
                              bool force) {
    Poco::Data::Statement unclaim(session);
    if (force) {
        unclaim << "UPDATE flows_engine_tasks SET claimed_by = '' WHERE id = ? AND status = 'open'", bind(taskId);
    } else {
        unclaim << "UPDATE flows_engine_tasks SET claimed_by = '' WHERE id = ? AND status = 'open' AND claimed_by = ?",
            bind(taskId), bind(user);
    }
    return unclaim.execute() == 1;
}

std::vector<HistoryEntry> EngineStore::history(Poco::Data::Session& session, const std::string& instanceId) {
    Poco::Data::Statement select(session);
    std::string id = instanceId;
    select << "SELECT seq, element_id, event, actor, at, result FROM flows_engine_history WHERE instance_id = ?"
              " ORDER BY seq",
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
