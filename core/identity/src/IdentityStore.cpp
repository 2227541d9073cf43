#include "hub/identity/IdentityStore.h"

#include "hub/identity/IdentityDirectory.h"

#include "FieldHashes.h"
#include "Json.h"
#include "PostgresArray.h"
#include "hub/identity/Mapping.h"
#include "hub/store/Database.h"

#include <Poco/Data/RecordSet.h>
#include <Poco/Data/SQLite/Utility.h>

#include <sqlite3.h>

#include <algorithm>
#include <Poco/Data/Statement.h>
#include <Poco/String.h>

using namespace Poco::Data::Keywords;

namespace hub::identity {

namespace {

const char* personColumns =
    "entry_uuid, id, dn, name, department, audience, roles, member_of, emails, phones, status, "
    "attributes, modify_timestamp, updated_at";

PersonStatus statusFrom(const std::string& s) { return s == "departed" ? PersonStatus::Departed : PersonStatus::Active; }

std::vector<Person> readPersons(Poco::Data::Statement& st) {
    st.execute();
    Poco::Data::RecordSet rs(st);
    std::vector<Person> out;
    out.reserve(rs.rowCount());
    for (bool more = rs.moveFirst(); more; more = rs.moveNext()) {
        Person p;
        p.entryUuid = rs["entry_uuid"].convert<std::string>();
        p.id = rs["id"].convert<std::string>();
        p.dn = rs["dn"].convert<std::string>();
        p.name = rs["name"].convert<std::string>();
        p.department = rs["department"].convert<std::string>();
        p.audience = detail::parseJsonList(rs["audience"].convert<std::string>());
        p.roles = detail::parseJsonList(rs["roles"].convert<std::string>());
        p.groups = detail::parseJsonList(rs["member_of"].convert<std::string>());
        p.emails = detail::parseJsonList(rs["emails"].convert<std::string>());
        p.phones = detail::parseJsonList(rs["phones"].convert<std::string>());
        p.status = statusFrom(rs["status"].convert<std::string>());
        p.attributesJson = rs["attributes"].convert<std::string>();
        p.modifyTimestamp = rs["modify_timestamp"].convert<std::string>();
        p.updatedAt = rs["updated_at"].convert<std::string>();
        out.push_back(std::move(p));
    }
    return out;
}

std::string likePattern(const std::string& query) {
    std::string out = "%";
    for (char c : Poco::toLower(query)) {
        if (c == '%' || c == '_' || c == '\\') out += '\\';
        out += c;
    }
    out += '%';
    return out;
}

}  // namespace

namespace {

// The SQLite statements of step 1 (released: never edited).
const std::vector<std::string> sqliteSchema1 = {"CREATE TABLE identity_persons ("
          " entry_uuid TEXT PRIMARY KEY,"
          " id TEXT NOT NULL,"
          " dn TEXT NOT NULL,"
          " dn_norm TEXT NOT NULL,"
          " name TEXT NOT NULL DEFAULT '',"
          " department TEXT NOT NULL DEFAULT '',"
          " audience TEXT NOT NULL DEFAULT '[]',"
          " roles TEXT NOT NULL DEFAULT '[]',"
          " member_of TEXT NOT NULL DEFAULT '[]',"
          " emails TEXT NOT NULL DEFAULT '[]',"
          " phones TEXT NOT NULL DEFAULT '[]',"
          " status TEXT NOT NULL DEFAULT 'active',"
          " attributes TEXT NOT NULL DEFAULT '{}',"
          " field_hashes TEXT NOT NULL DEFAULT '',"
          " modify_timestamp TEXT NOT NULL DEFAULT '',"
          " updated_at TEXT NOT NULL,"
          " departed_at TEXT)",
          "CREATE INDEX identity_persons_id ON identity_persons(id)",
          "CREATE INDEX identity_persons_dn ON identity_persons(dn_norm)",
          "CREATE TABLE identity_orgs ("
          " entry_uuid TEXT PRIMARY KEY,"
          " dn TEXT NOT NULL,"
          " name TEXT NOT NULL DEFAULT '',"
          " description TEXT NOT NULL DEFAULT '',"
          " parent_dn TEXT NOT NULL DEFAULT '',"
          " status TEXT NOT NULL DEFAULT 'active',"
          " updated_at TEXT NOT NULL)",
          "CREATE TABLE identity_groups ("
          " entry_uuid TEXT PRIMARY KEY,"
          " dn TEXT NOT NULL,"
          " name TEXT NOT NULL DEFAULT '',"
          " members TEXT NOT NULL DEFAULT '[]',"
          " status TEXT NOT NULL DEFAULT 'active',"
          " updated_at TEXT NOT NULL)",
          "CREATE TABLE identity_sync_state ("
          " source TEXT PRIMARY KEY,"
          " cookie TEXT NOT NULL DEFAULT '',"
          " high_water TEXT NOT NULL DEFAULT '',"
          " last_method TEXT NOT NULL DEFAULT '',"
          " last_run_at TEXT NOT NULL DEFAULT '',"
          " last_success_at TEXT NOT NULL DEFAULT '',"
          " last_status TEXT NOT NULL DEFAULT '',"
          " last_error TEXT NOT NULL DEFAULT '',"
          " alert TEXT NOT NULL DEFAULT '',"
          " created INTEGER NOT NULL DEFAULT 0,"
          " updated INTEGER NOT NULL DEFAULT 0,"
          " departed INTEGER NOT NULL DEFAULT 0,"
          " unchanged INTEGER NOT NULL DEFAULT 0,"
          " read_count INTEGER NOT NULL DEFAULT 0,"
          " duration_ms INTEGER NOT NULL DEFAULT 0)"};

// Step 1 on PostgreSQL: the counts are BIGINT, and ids, DNs and entryUUIDs
// compare bytewise (COLLATE "C") as on SQLite, so the directory's id order and
// its search cursor are the same on both.
const std::vector<std::string> postgresSchema1 = {
    "CREATE TABLE identity_persons ("
    " entry_uuid TEXT COLLATE \"C\" PRIMARY KEY,"
    " id TEXT COLLATE \"C\" NOT NULL,"
    " dn TEXT NOT NULL,"
    " dn_norm TEXT COLLATE \"C\" NOT NULL,"
    " name TEXT NOT NULL DEFAULT '',"
    " department TEXT NOT NULL DEFAULT '',"
    " audience TEXT NOT NULL DEFAULT '[]',"
    " roles TEXT NOT NULL DEFAULT '[]',"
    " member_of TEXT NOT NULL DEFAULT '[]',"
    " emails TEXT NOT NULL DEFAULT '[]',"
    " phones TEXT NOT NULL DEFAULT '[]',"
    " status TEXT NOT NULL DEFAULT 'active',"
    " attributes TEXT NOT NULL DEFAULT '{}',"
    " field_hashes TEXT NOT NULL DEFAULT '',"  // the hex form (FieldHashes.h)
    " modify_timestamp TEXT NOT NULL DEFAULT '',"
    " updated_at TEXT NOT NULL,"
    " departed_at TEXT)",
    "CREATE INDEX identity_persons_id ON identity_persons(id)",
    "CREATE INDEX identity_persons_dn ON identity_persons(dn_norm)",
    "CREATE TABLE identity_orgs ("
    " entry_uuid TEXT COLLATE \"C\" PRIMARY KEY,"
    " dn TEXT NOT NULL,"
    " name TEXT NOT NULL DEFAULT '',"
    " description TEXT NOT NULL DEFAULT '',"
    " parent_dn TEXT NOT NULL DEFAULT '',"
    " status TEXT NOT NULL DEFAULT 'active',"
    " updated_at TEXT NOT NULL)",
    "CREATE TABLE identity_groups ("
    " entry_uuid TEXT COLLATE \"C\" PRIMARY KEY,"
    " dn TEXT NOT NULL,"
    " name TEXT NOT NULL DEFAULT '',"
    " members TEXT NOT NULL DEFAULT '[]',"
    " status TEXT NOT NULL DEFAULT 'active',"
    " updated_at TEXT NOT NULL)",
    "CREATE TABLE identity_sync_state ("
    " source TEXT PRIMARY KEY,"
    " cookie TEXT NOT NULL DEFAULT '',"
    " high_water TEXT NOT NULL DEFAULT '',"
    " last_method TEXT NOT NULL DEFAULT '',"
    " last_run_at TEXT NOT NULL DEFAULT '',"
    " last_success_at TEXT NOT NULL DEFAULT '',"
    " last_status TEXT NOT NULL DEFAULT '',"
    " last_error TEXT NOT NULL DEFAULT '',"
    " alert TEXT NOT NULL DEFAULT '',"
    " created BIGINT NOT NULL DEFAULT 0,"
    " updated BIGINT NOT NULL DEFAULT 0,"
    " departed BIGINT NOT NULL DEFAULT 0,"
    " unchanged BIGINT NOT NULL DEFAULT 0,"
    " read_count BIGINT NOT NULL DEFAULT 0,"
    " duration_ms BIGINT NOT NULL DEFAULT 0)"};

// Step 2: one row per sync run, with the node that ran it and its lease token,
// so that runs on several hubs can be told apart (and checked not to overlap).
// Times are the database's clock in ms since the epoch (one clock for all nodes).
const char* syncRunsColumns =
    " source TEXT NOT NULL,"
    " node TEXT NOT NULL,"
    " lease_token BIGINT NOT NULL DEFAULT 0,"
    " what TEXT NOT NULL DEFAULT '',"
    " method TEXT NOT NULL DEFAULT '',"
    " status TEXT NOT NULL DEFAULT 'running',"
    " error TEXT NOT NULL DEFAULT '',"
    " started_ms BIGINT NOT NULL,"
    " finished_ms BIGINT)";

// The database's "now" in ms since the epoch (as store::Lease counts).
const char* databaseNowMs(store::Dialect dialect) {
    return dialect == store::Dialect::PostgreSql ? "(extract(epoch from clock_timestamp()) * 1000)::bigint"
                                                 : "CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)";
}

}  // namespace

// Also step 2: a run an admin asked for on a node without the lease, for the
// holder to run (Syncer::requestRun). taken_by names the node that took it.
const char* syncRequestsColumns =
    " source TEXT NOT NULL,"
    " full_sync INTEGER NOT NULL DEFAULT 0,"
    " allow_mass_departure INTEGER NOT NULL DEFAULT 0,"
    " requested_by TEXT NOT NULL,"
    " requested_at_ms BIGINT NOT NULL,"
    " taken_by TEXT NOT NULL DEFAULT '',"
    " run_id BIGINT NOT NULL DEFAULT 0)";

const std::vector<store::Migration>& IdentityStore::migrations() {
    static const std::vector<store::Migration> m = {
        {1, sqliteSchema1, postgresSchema1},
        {2,
         {std::string("CREATE TABLE identity_sync_runs (id INTEGER PRIMARY KEY AUTOINCREMENT,") + syncRunsColumns,
          "CREATE INDEX identity_sync_runs_source ON identity_sync_runs(source, id)",
          std::string("CREATE TABLE identity_sync_requests (id INTEGER PRIMARY KEY AUTOINCREMENT,") +
              syncRequestsColumns},
         {std::string("CREATE TABLE identity_sync_runs (id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,") +
              syncRunsColumns,
          "CREATE INDEX identity_sync_runs_source ON identity_sync_runs(source, id)",
          std::string("CREATE TABLE identity_sync_requests (id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,") +
              syncRequestsColumns}},
    };
    return m;
}

IdentityStore::IdentityStore(store::Database& db) : db_(db) { db_.migrate("identity", migrations()); }

std::unordered_map<std::string, IdentityStore::PersonState> IdentityStore::loadPersonStates() {
    Poco::Data::Session s = db_.session();
    if (store::dialectOf(s) == store::Dialect::Sqlite) {
        // Straight from sqlite3: every run starts here with one row per person, and
        // Poco's extraction cannot read the hashes BLOB (it stops at a zero byte).
        sqlite3* db = Poco::Data::SQLite::Utility::dbHandle(s);
        sqlite3_stmt* stmt = nullptr;
        int rc = sqlite3_prepare_v2(db, "SELECT entry_uuid, field_hashes, status FROM identity_persons", -1, &stmt,
                                    nullptr);
        if (rc != SQLITE_OK) Poco::Data::SQLite::Utility::throwException(db, rc, "prepare identity_persons states");
        struct Finalize {
            sqlite3_stmt* st;
            ~Finalize() { sqlite3_finalize(st); }
        } finalize{stmt};
        std::unordered_map<std::string, PersonState> out;
        while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
            auto text = [&](int col) {
                const auto* p = static_cast<const unsigned char*>(sqlite3_column_blob(stmt, col));
                return std::string_view(reinterpret_cast<const char*>(p),
                                        p ? static_cast<std::size_t>(sqlite3_column_bytes(stmt, col)) : 0);
            };
            std::string_view uuid = text(0);
            std::string_view hashes = text(1);
            std::string_view status = text(2);
            out.emplace(std::string(uuid),
                        PersonState{detail::hashesFromBytes(hashes),
                                    status == "departed" ? PersonStatus::Departed : PersonStatus::Active});
        }
        if (rc != SQLITE_DONE) Poco::Data::SQLite::Utility::throwException(db, rc, "read identity_persons states");
        return out;
    }
    // PostgreSQL: the hashes are hex text there (FieldHashes.h).
    std::vector<std::string> uuids, hashes, statuses;
    s << "SELECT entry_uuid, field_hashes, status FROM identity_persons", into(uuids), into(hashes),
        into(statuses), now;
    std::unordered_map<std::string, PersonState> out;
    out.reserve(uuids.size() * 2);
    for (std::size_t i = 0; i < uuids.size(); ++i)
        out.emplace(std::move(uuids[i]), PersonState{detail::hashesFromBytes(hashes[i]), statusFrom(statuses[i])});
    return out;
}

std::vector<Org> IdentityStore::loadOrgs() {
    Poco::Data::Session s = db_.session();
    std::vector<std::string> uuids, dns, names, descriptions, parents, statuses, updated;
    s << "SELECT entry_uuid, dn, name, description, parent_dn, status, updated_at FROM identity_orgs",
        into(uuids), into(dns), into(names), into(descriptions), into(parents), into(statuses), into(updated), now;
    std::vector<Org> out(uuids.size());
    for (std::size_t i = 0; i < uuids.size(); ++i)
        out[i] = Org{uuids[i], dns[i], names[i], descriptions[i], parents[i], statusFrom(statuses[i]), updated[i]};
    return out;
}

std::vector<Group> IdentityStore::loadGroups() {
    Poco::Data::Session s = db_.session();
    std::vector<std::string> uuids, dns, names, members, statuses, updated;
    s << "SELECT entry_uuid, dn, name, members, status, updated_at FROM identity_groups", into(uuids), into(dns),
        into(names), into(members), into(statuses), into(updated), now;
    std::vector<Group> out(uuids.size());
    for (std::size_t i = 0; i < uuids.size(); ++i)
        out[i] = Group{uuids[i], dns[i], names[i], detail::parseJsonList(members[i]), statusFrom(statuses[i]),
                       updated[i]};
    return out;
}


namespace {

const char* upsertPersonSql =
    "INSERT INTO identity_persons(entry_uuid, id, dn, dn_norm, name, department, audience, roles,"
    " member_of, emails, phones, status, attributes, field_hashes, modify_timestamp, updated_at,"
    " departed_at) VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,NULLIF(?, ''))"
    " ON CONFLICT(entry_uuid) DO UPDATE SET id=excluded.id, dn=excluded.dn, dn_norm=excluded.dn_norm,"
    " name=excluded.name, department=excluded.department, audience=excluded.audience,"
    " roles=excluded.roles, member_of=excluded.member_of, emails=excluded.emails,"
    " phones=excluded.phones, status=excluded.status, attributes=excluded.attributes,"
    " field_hashes=excluded.field_hashes, modify_timestamp=excluded.modify_timestamp,"
    " updated_at=excluded.updated_at, departed_at=excluded.departed_at";

}  // namespace

// SQLite (the default store): one statement prepared per batch on the session's own
// connection - so it runs inside the session's transaction, beside the sink - with
// values bound straight from the Person's strings. Poco::Data's generic binding costs
// about 10 us per row here, which is most of a full sync's budget.
void IdentityStore::writePersonsSqlite(Poco::Data::Session& s, Batch& batch, const std::string& now_) {
    sqlite3* db = Poco::Data::SQLite::Utility::dbHandle(s);
    sqlite3_stmt* stmt = nullptr;
    int rc = sqlite3_prepare_v2(db, upsertPersonSql, -1, &stmt, nullptr);
    if (rc != SQLITE_OK) Poco::Data::SQLite::Utility::throwException(db, rc, "prepare identity_persons upsert");
    struct Finalize {
        sqlite3_stmt* st;
        ~Finalize() { sqlite3_finalize(st); }
    } finalize{stmt};
    unsigned char hashes[detail::kFieldHashBlobBytes];
    auto text = [&](int column, const std::string& v) {
        sqlite3_bind_text(stmt, column, v.data(), static_cast<int>(v.size()), SQLITE_STATIC);
    };
    if (batch.rows.size() != batch.persons.size() || batch.order.size() != batch.persons.size()) prepare(batch);
    for (std::size_t i : batch.order) {
        Person& p = batch.persons[i];
        const Batch::Row& row = batch.rows[i];
        const std::string& dnNorm = row.dnNorm;
        const std::string& audience = row.audience;
        const std::string& roles = row.roles;
        const std::string& groups = row.groups;
        const std::string& emails = row.emails;
        const std::string& phones = row.phones;
        p.updatedAt = now_;
        detail::hashesToBlob(batch.personHashes[i], hashes);
        const char* status = toString(p.status);
        const std::string& departed = p.status == PersonStatus::Departed ? now_ : std::string();
        text(1, p.entryUuid);
        text(2, p.id);
        text(3, p.dn);
        text(4, dnNorm);
        text(5, p.name);
        text(6, p.department);
        text(7, audience);
        text(8, roles);
        text(9, groups);
        text(10, emails);
        text(11, phones);
        sqlite3_bind_text(stmt, 12, status, -1, SQLITE_STATIC);
        text(13, p.attributesJson);
        sqlite3_bind_blob(stmt, 14, hashes, static_cast<int>(sizeof hashes), SQLITE_STATIC);
        text(15, p.modifyTimestamp);
        text(16, now_);
        text(17, departed);
        rc = sqlite3_step(stmt);
        if (rc != SQLITE_DONE) Poco::Data::SQLite::Utility::throwException(db, rc, "upsert identity_persons");
        sqlite3_reset(stmt);
    }
}

void IdentityStore::prepare(Batch& batch) {
    const std::size_t n = batch.persons.size();
    batch.rows.resize(n);
    for (std::size_t i = 0; i < n; ++i) {
        const Person& p = batch.persons[i];
        Batch::Row& row = batch.rows[i];
        row.dnNorm = normalizeDn(p.dn);
        detail::assignJsonList(row.audience, p.audience);
        detail::assignJsonList(row.roles, p.roles);
        detail::assignJsonList(row.groups, p.groups);
        detail::assignJsonList(row.emails, p.emails);
        detail::assignJsonList(row.phones, p.phones);
    }
    // In entryUUID order: the keys are random, and sorted inserts walk the primary-key
    // index once instead of touching a different page for every row.
    batch.order.resize(n);
    for (std::size_t i = 0; i < n; ++i) batch.order[i] = i;
    std::sort(batch.order.begin(), batch.order.end(),
              [&](std::size_t a, std::size_t b) {
                  // The same person twice: the later last (it is the one that stays).
                  const int c = batch.persons[a].entryUuid.compare(batch.persons[b].entryUuid);
                  return c != 0 ? c < 0 : a < b;
              });
}

namespace {

// The persons' upsert on PostgreSQL: one statement per batch, every column an
// array parameter that unnest() turns back into rows.
const char* upsertPersonsPostgresSql =
    "INSERT INTO identity_persons(entry_uuid, id, dn, dn_norm, name, department, audience, roles,"
    " member_of, emails, phones, status, attributes, field_hashes, modify_timestamp, updated_at,"
    " departed_at) SELECT u.c1, u.c2, u.c3, u.c4, u.c5, u.c6, u.c7, u.c8, u.c9, u.c10, u.c11, u.c12, u.c13,"
    " u.c14, u.c15, u.c16, NULLIF(u.c17, '') FROM unnest($1::text[], $2::text[], $3::text[], $4::text[],"
    " $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::text[], $11::text[], $12::text[],"
    " $13::text[], $14::text[], $15::text[], $16::text[], $17::text[])"
    " AS u(c1, c2, c3, c4, c5, c6, c7, c8, c9, c10, c11, c12, c13, c14, c15, c16, c17)"
    " ON CONFLICT(entry_uuid) DO UPDATE SET id=excluded.id, dn=excluded.dn, dn_norm=excluded.dn_norm,"
    " name=excluded.name, department=excluded.department, audience=excluded.audience,"
    " roles=excluded.roles, member_of=excluded.member_of, emails=excluded.emails,"
    " phones=excluded.phones, status=excluded.status, attributes=excluded.attributes,"
    " field_hashes=excluded.field_hashes, modify_timestamp=excluded.modify_timestamp,"
    " updated_at=excluded.updated_at, departed_at=excluded.departed_at";

}  // namespace

// PostgreSQL: the whole batch in one statement and one round trip - seventeen
// array parameters - where Poco's row-by-row binding would cost a round trip per
// person. A person twice in a batch is written once, the later (an upsert may not
// touch a row twice in one statement); SQLite's row by row ends the same.
void IdentityStore::writePersonsPostgres(Poco::Data::Session& s, Batch& batch, const std::string& now_) {
    if (batch.rows.size() != batch.persons.size() || batch.order.size() != batch.persons.size()) prepare(batch);
    const std::size_t n = batch.persons.size();
    std::size_t attributeBytes = 0;
    for (const Person& p : batch.persons) attributeBytes += p.attributesJson.size();
    std::vector<detail::PostgresArray> columns;
    columns.reserve(17);
    for (int c = 0; c < 17; ++c) columns.emplace_back(c == 12 ? attributeBytes * 5 / 4 + n * 3 : n * 40);
    for (std::size_t k = 0; k < batch.order.size(); ++k) {
        const std::size_t i = batch.order[k];
        Person& p = batch.persons[i];
        p.updatedAt = now_;
        if (k + 1 < batch.order.size() && batch.persons[batch.order[k + 1]].entryUuid == p.entryUuid) continue;
        const Batch::Row& row = batch.rows[i];
        const std::string* values[] = {&p.entryUuid, &p.id,     &p.dn,         &row.dnNorm, &p.name,
                                       &p.department, &row.audience, &row.roles, &row.groups, &row.emails,
                                       &row.phones};
        for (int c = 0; c < 11; ++c) columns[static_cast<std::size_t>(c)].add(*values[c]);
        columns[11].add(toString(p.status));
        columns[12].add(p.attributesJson);
        columns[13].add(detail::hashesToText(batch.personHashes[i]));
        columns[14].add(p.modifyTimestamp);
        columns[15].add(now_);
        columns[16].add(p.status == PersonStatus::Departed ? std::string_view(now_) : std::string_view());
    }
    Poco::Data::Statement st(s);
    st << upsertPersonsPostgresSql;
    for (auto& c : columns) st, use(c.finish());
    st.execute();
}

bool IdentityStore::write(Batch& batch, const ChangeSink& sink, const LeaseFence* fence) {
    Batch* one[] = {&batch};
    return write(std::span<Batch* const>(one), sink, fence);
}

// Inside the caller's transaction, after its writes, just before the commit.
// PostgreSQL: the share lock on the lease row makes a takeover (an upsert of
// that row) wait until this transaction ends, and a takeover committed before
// is seen (read committed reads the row's latest version under the lock);
// taken last, it holds up the holder's own renewals only for the commit.
// SQLite: this transaction holds the file's write lock by now, so no renewal
// or takeover commits between the check and the commit.
bool IdentityStore::fenceHolds(Poco::Data::Session& s, const LeaseFence& fence) {
    std::string name = fence.lease, holder = fence.holder;
    std::vector<Poco::Int64> tokens;
    const bool postgres = store::dialectOf(s) == store::Dialect::PostgreSql;
    s << store::sql(s, postgres ? "SELECT token FROM store_leases WHERE name = ? AND holder = ? FOR SHARE"
                                : "SELECT token FROM store_leases WHERE name = ? AND holder = ?"),
        use(name), use(holder), into(tokens), now;
    return tokens.size() == 1 && tokens.front() == fence.token;
}

bool IdentityStore::write(std::span<Batch* const> batches, const ChangeSink& sink, const LeaseFence* fence) {
    std::size_t persons = 0;
    bool anything = false;
    for (const Batch* b : batches) {
        persons += b->persons.size();
        anything = anything || !b->empty() || !b->changes.empty();
    }
    if (!anything) return true;
    Poco::Data::Session s = db_.session();
    const std::string now_ = detail::nowIso();
    if (store::dialectOf(s) == store::Dialect::Sqlite && persons > 100)
        // entryUUIDs are random, so a page of upserts touches index pages all over the
        // file; SQLite's default 2 MiB page cache made a 100,000-person sync I/O-bound.
        // Connection-local and only a cache size: nothing about durability changes.
        s << "PRAGMA cache_size = -65536", now;
    return transaction(s, fence, [&] {
        for (Batch* b : batches) writeWithin(s, *b, sink, now_);
    });
}

// One transaction of `writes`, under `fence` when given: false (rolled back,
// nothing written) when the fence no longer holds.
bool IdentityStore::transaction(Poco::Data::Session& s, const LeaseFence* fence, const std::function<void()>& writes) {
    s.begin();
    try {
        writes();
        if (fence && !fenceHolds(s, *fence)) {
            s.rollback();
            return false;
        }
        s.commit();
    } catch (...) {
        // After SQLITE_FULL or an I/O error SQLite may have rolled back already, and
        // ROLLBACK then throws: keep the original error, the one worth reporting.
        try {
            if (s.isTransaction()) s.rollback();
        } catch (const Poco::Exception&) {
        }
        throw;
    }
    return true;
}

void IdentityStore::writeWithin(Poco::Data::Session& s, Batch& batch, const ChangeSink& sink,
                                const std::string& now_) {
    if (!batch.persons.empty()) {
        if (store::dialectOf(s) == store::Dialect::Sqlite) writePersonsSqlite(s, batch, now_);
        else writePersonsPostgres(s, batch, now_);
    }
    for (auto& o : batch.orgs) {
        o.updatedAt = now_;
        std::string st = toString(o.status);
        s << store::sql(s,
                        "INSERT INTO identity_orgs(entry_uuid, dn, name, description, parent_dn, status, updated_at)"
                        " VALUES(?,?,?,?,?,?,?) ON CONFLICT(entry_uuid) DO UPDATE SET dn=excluded.dn,"
                        " name=excluded.name, description=excluded.description, parent_dn=excluded.parent_dn,"
                        " status=excluded.status, updated_at=excluded.updated_at"),
            use(o.entryUuid), use(o.dn), use(o.name), use(o.description), use(o.parentDn), use(st),
            use(o.updatedAt), now;
    }
    for (auto& g : batch.groups) {
        g.updatedAt = now_;
        std::string st = toString(g.status);
        std::string members = detail::jsonList(g.members);
        s << store::sql(s,
                        "INSERT INTO identity_groups(entry_uuid, dn, name, members, status, updated_at)"
                        " VALUES(?,?,?,?,?,?) ON CONFLICT(entry_uuid) DO UPDATE SET dn=excluded.dn,"
                        " name=excluded.name, members=excluded.members, status=excluded.status,"
                        " updated_at=excluded.updated_at"),
            use(g.entryUuid), use(g.dn), use(g.name), use(members), use(st), use(g.updatedAt), now;
    }
    if (sink)
        for (std::size_t i = 0; i < batch.changes.size(); ++i) {
            IdentityChange& c = batch.changes[i];
            if (i < batch.changePerson.size() && batch.changePerson[i] >= 0)
                c.person = std::move(batch.persons[static_cast<std::size_t>(batch.changePerson[i])]);
            c.person.updatedAt = now_;
            c.org.updatedAt = now_;
            c.group.updatedAt = now_;
            sink(s, c);
        }
}

std::optional<Person> IdentityStore::personByUuid(const std::string& entryUuid) {
    Poco::Data::Session s = db_.session();
    std::string key = entryUuid;
    Poco::Data::Statement st(s);
    st << store::sql(s, std::string("SELECT ") + personColumns + " FROM identity_persons WHERE entry_uuid = ?"),
        use(key);
    auto rows = readPersons(st);
    if (rows.empty()) return std::nullopt;
    return rows.front();
}

std::optional<Person> IdentityStore::personById(const std::string& id) {
    Poco::Data::Session s = db_.session();
    std::string key = id;
    Poco::Data::Statement st(s);
    // An active person wins over a departed one that once had the same id.
    st << store::sql(s, std::string("SELECT ") + personColumns +
                            " FROM identity_persons WHERE id = ? ORDER BY CASE status WHEN 'active' THEN 0 ELSE 1"
                            " END, updated_at DESC LIMIT 1"),
        use(key);
    auto rows = readPersons(st);
    if (rows.empty()) return std::nullopt;
    return rows.front();
}

std::vector<Person> IdentityStore::personsByDnsOrIds(const std::vector<std::string>& normalizedDns,
                                                     const std::vector<std::string>& ids) {
    std::vector<Person> out;
    Poco::Data::Session s = db_.session();
    const std::string byDn =
        store::sql(s, std::string("SELECT ") + personColumns + " FROM identity_persons WHERE dn_norm = ? AND status = 'active'");
    const std::string byId =
        store::sql(s, std::string("SELECT ") + personColumns + " FROM identity_persons WHERE id = ? AND status = 'active'");
    for (const auto& dn : normalizedDns) {
        std::string key = dn;
        Poco::Data::Statement st(s);
        st << byDn, use(key);
        for (auto& p : readPersons(st)) out.push_back(std::move(p));
    }
    for (const auto& id : ids) {
        std::string key = id;
        Poco::Data::Statement st(s);
        st << byId, use(key);
        for (auto& p : readPersons(st)) out.push_back(std::move(p));
    }
    return out;
}

std::vector<Person> IdentityStore::personsByUuids(const std::vector<std::string>& uuids) {
    std::vector<Person> out;
    for (const auto& u : uuids)
        if (auto p = personByUuid(u)) out.push_back(std::move(*p));
    return out;
}

std::vector<Person> IdentityStore::searchPersons(const std::string& query, std::size_t limit,
                                                 const std::string& after) {
    Poco::Data::Session s = db_.session();
    std::string pattern = likePattern(query);
    std::string afterKey = after;
    // The directory asks for one row beyond its largest page.
    int lim = static_cast<int>(std::min<std::size_t>(limit, IdentityDirectory::maxPageSize + 1));
    Poco::Data::Statement st(s);
    st << store::sql(s, std::string("SELECT ") + personColumns +
                            " FROM identity_persons WHERE status = 'active' AND id > ? AND (lower(id) LIKE ? ESCAPE"
                            " '\\' OR lower(name) LIKE ? ESCAPE '\\' OR lower(department) LIKE ? ESCAPE '\\'"
                            " OR lower(emails) LIKE ? ESCAPE '\\') ORDER BY id LIMIT ?"),
        use(afterKey), use(pattern), bind(pattern), bind(pattern), bind(pattern), use(lim);
    return readPersons(st);
}

std::size_t IdentityStore::countPersons(PersonStatus status) {
    Poco::Data::Session s = db_.session();
    std::string st = toString(status);
    Poco::Int64 n = 0;
    s << store::sql(s, "SELECT COUNT(*) FROM identity_persons WHERE status = ?"), use(st), into(n), now;
    return static_cast<std::size_t>(n);
}

IdentityStore::SyncState IdentityStore::readSyncState(const std::string& source) {
    Poco::Data::Session s = db_.session();
    Poco::Data::Statement st(s);
    std::string key = source;
    st << store::sql(s,
                     "SELECT cookie, high_water, last_method, last_run_at, last_success_at, last_status, last_error,"
                     " alert, created, updated, departed, unchanged, read_count, duration_ms FROM identity_sync_state"
                     " WHERE source = ?"),
        use(key);
    st.execute();
    Poco::Data::RecordSet rs(st);
    SyncState out;
    out.source = source;
    if (!rs.moveFirst()) return out;
    out.cookie = rs[0].convert<std::string>();
    out.highWater = rs[1].convert<std::string>();
    out.lastMethod = rs[2].convert<std::string>();
    out.lastRunAt = rs[3].convert<std::string>();
    out.lastSuccessAt = rs[4].convert<std::string>();
    out.lastStatus = rs[5].convert<std::string>();
    out.lastError = rs[6].convert<std::string>();
    out.alert = rs[7].convert<std::string>();
    out.created = rs[8].convert<Poco::Int64>();
    out.updated = rs[9].convert<Poco::Int64>();
    out.departed = rs[10].convert<Poco::Int64>();
    out.unchanged = rs[11].convert<Poco::Int64>();
    out.read = rs[12].convert<Poco::Int64>();
    out.durationMs = rs[13].convert<Poco::Int64>();
    return out;
}

bool IdentityStore::writeSyncState(const SyncState& state, const LeaseFence* fence) {
    Poco::Data::Session s = db_.session();
    SyncState v = state;
    Poco::Int64 created = v.created, updated = v.updated, departed = v.departed, unchanged = v.unchanged,
                read = v.read, durationMs = v.durationMs;
    return transaction(s, fence, [&] {
        s << store::sql(s,
                        "INSERT INTO identity_sync_state(source, cookie, high_water, last_method, last_run_at,"
                        " last_success_at, last_status, last_error, alert, created, updated, departed, unchanged,"
                        " read_count, duration_ms) VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT(source) DO UPDATE"
                        " SET cookie=excluded.cookie, high_water=excluded.high_water, last_method=excluded.last_method,"
                        " last_run_at=excluded.last_run_at, last_success_at=excluded.last_success_at,"
                        " last_status=excluded.last_status, last_error=excluded.last_error, alert=excluded.alert,"
                        " created=excluded.created, updated=excluded.updated, departed=excluded.departed,"
                        " unchanged=excluded.unchanged, read_count=excluded.read_count,"
                        " duration_ms=excluded.duration_ms"),
            use(v.source), use(v.cookie), use(v.highWater), use(v.lastMethod), use(v.lastRunAt), use(v.lastSuccessAt),
            use(v.lastStatus), use(v.lastError), use(v.alert), use(created), use(updated), use(departed),
            use(unchanged), use(read), use(durationMs), now;
    });
}

long long IdentityStore::beginSyncRun(const std::string& source, const std::string& node, long long leaseToken,
                                     const std::string& what) {
    Poco::Data::Session s = db_.session();
    std::string src = source, nd = node, w = what;
    Poco::Int64 token = leaseToken, id = 0;
    s << store::sql(s, std::string("INSERT INTO identity_sync_runs(source, node, lease_token, what, started_ms)"
                                   " VALUES(?, ?, ?, ?, ") +
                           databaseNowMs(store::dialectOf(s)) + ") RETURNING id"),
        use(src), use(nd), use(token), use(w), into(id), now;
    return id;
}

void IdentityStore::endSyncRun(long long id, const std::string& method, const std::string& status,
                               const std::string& error) {
    Poco::Data::Session s = db_.session();
    std::string m = method, st = status, e = error.substr(0, 2000);
    Poco::Int64 key = id;
    s << store::sql(s, std::string("UPDATE identity_sync_runs SET method = ?, status = ?, error = ?, finished_ms = ") +
                           databaseNowMs(store::dialectOf(s)) + " WHERE id = ?"),
        use(m), use(st), use(e), use(key), now;
    // The history keeps the last 10,000 runs (a run every 15 minutes: about 100 days),
    // and the requests they answered.
    Poco::Int64 horizon = id - 10000;
    if (horizon > 0) {
        s << store::sql(s, "DELETE FROM identity_sync_runs WHERE id < ?"), use(horizon), now;
        s << store::sql(s, "DELETE FROM identity_sync_requests WHERE run_id <> 0 AND run_id < ?"), use(horizon), now;
    }
}

std::vector<IdentityStore::SyncRunRecord> IdentityStore::syncRuns(const std::string& source, std::size_t limit) {
    Poco::Data::Session s = db_.session();
    std::string src = source;
    Poco::Int64 lim = static_cast<Poco::Int64>(std::min<std::size_t>(limit, 100000));
    Poco::Data::Statement st(s);
    st << store::sql(s, "SELECT id, node, lease_token, what, method, status, error, started_ms,"
                        " COALESCE(finished_ms, 0) FROM identity_sync_runs WHERE source = ? ORDER BY id DESC LIMIT ?"),
        use(src), use(lim);
    st.execute();
    Poco::Data::RecordSet rs(st);
    std::vector<SyncRunRecord> out;
    for (bool more = rs.moveFirst(); more; more = rs.moveNext()) {
        SyncRunRecord r;
        r.id = rs[0].convert<Poco::Int64>();
        r.source = source;
        r.node = rs[1].convert<std::string>();
        r.leaseToken = rs[2].convert<Poco::Int64>();
        r.what = rs[3].convert<std::string>();
        r.method = rs[4].convert<std::string>();
        r.status = rs[5].convert<std::string>();
        r.error = rs[6].convert<std::string>();
        r.startedMs = rs[7].convert<Poco::Int64>();
        r.finishedMs = rs[8].convert<Poco::Int64>();
        out.push_back(std::move(r));
    }
    std::reverse(out.begin(), out.end());
    return out;
}

long long IdentityStore::requestSyncRun(const std::string& source, const std::string& node, bool full,
                                       bool allowMassDeparture) {
    Poco::Data::Session s = db_.session();
    std::string src = source, nd = node;
    int f = full ? 1 : 0, allow = allowMassDeparture ? 1 : 0;
    Poco::Int64 id = 0;
    s << store::sql(s, std::string("INSERT INTO identity_sync_requests(source, full_sync, allow_mass_departure,"
                                   " requested_by, requested_at_ms) VALUES(?, ?, ?, ?, ") +
                           databaseNowMs(store::dialectOf(s)) + ") RETURNING id"),
        use(src), use(f), use(allow), use(nd), into(id), now;
    return id;
}

std::optional<IdentityStore::SyncRequest> IdentityStore::takeSyncRequest(const std::string& source,
                                                                         const std::string& node) {
    Poco::Data::Session s = db_.session();
    std::string src = source, nd = node;
    std::vector<Poco::Int64> ids;
    std::vector<int> full, allow;
    std::vector<std::string> by;
    // The oldest not taken, taken in one statement (two nodes never take the same).
    s << store::sql(s, "UPDATE identity_sync_requests SET taken_by = ? WHERE taken_by = '' AND id = (SELECT MIN(id)"
                       " FROM identity_sync_requests WHERE source = ? AND taken_by = '')"
                       " RETURNING id, full_sync, allow_mass_departure, requested_by"),
        use(nd), use(src), into(ids), into(full), into(allow), into(by), now;
    if (ids.empty()) return std::nullopt;
    return SyncRequest{ids[0], full[0] != 0, allow[0] != 0, by[0]};
}

void IdentityStore::settleSyncRequest(long long requestId, long long runId) {
    Poco::Data::Session s = db_.session();
    Poco::Int64 id = requestId, run = runId;
    s << store::sql(s, "UPDATE identity_sync_requests SET run_id = ? WHERE id = ?"), use(run), use(id), now;
}

std::size_t IdentityStore::pendingSyncRequests(const std::string& source) {
    Poco::Data::Session s = db_.session();
    std::string src = source;
    Poco::Int64 n = 0;
    s << store::sql(s, "SELECT COUNT(*) FROM identity_sync_requests WHERE source = ? AND taken_by = ''"), use(src),
        into(n), now;
    return static_cast<std::size_t>(n);
}

}  // namespace hub::identity
