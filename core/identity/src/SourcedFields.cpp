#include "hub/identity/SourcedFields.h"

#include "Json.h"
#include "PostgresArray.h"

#include "hub/common/JsonWriter.h"
#include "hub/common/Utf8.h"
#include "hub/identity/IdentityStore.h"
#include "hub/store/Database.h"
#include "hub/store/PreparedStatement.h"
#include "hub/store/WriteTransaction.h"

#include <Poco/Data/Session.h>
#include <Poco/Data/Statement.h>
#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include <algorithm>
#include <map>
#include <optional>

namespace hub::identity {

using namespace Poco::Data::Keywords;

namespace {

struct Record {
    std::string id;
    std::vector<std::pair<std::string, std::optional<std::string>>> fields;  // nullopt: remove
};

bool validFieldName(const std::string& f) {
    if (f.empty() || f.size() > 64) return false;
    return std::all_of(f.begin(), f.end(), [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'; });
}

bool hasControl(std::string_view s) {
    return std::any_of(s.begin(), s.end(), [](char c) { return static_cast<unsigned char>(c) < 0x20 && c != '\t'; });
}

std::vector<Record> parseRecords(std::string_view json) {
    using Invalid = SourcedFields::InvalidRecords;
    Poco::Dynamic::Var root;
    try {
        Poco::JSON::Parser parser;
        root = parser.parse(std::string(json));
    } catch (const Poco::Exception& e) {
        throw Invalid("records are not JSON: " + e.displayText());
    }
    if (root.type() != typeid(Poco::JSON::Object::Ptr)) throw Invalid("records must be a JSON object");
    auto o = root.extract<Poco::JSON::Object::Ptr>();
    auto list = o->getArray("records");
    if (!list) throw Invalid("\"records\" must be an array");
    if (list->size() > SourcedFields::kMaxRecords)
        throw Invalid("more than " + std::to_string(SourcedFields::kMaxRecords) + " records in one call");
    std::vector<Record> records;
    records.reserve(list->size());
    for (std::size_t i = 0; i < list->size(); ++i) {
        const std::string where = "records[" + std::to_string(i) + "]";
        auto r = list->getObject(static_cast<unsigned>(i));
        if (!r) throw Invalid(where + " is not an object");
        Record rec;
        if (!r->has("id") || !r->get("id").isString()) throw Invalid(where + ".id must be a string");
        rec.id = r->getValue<std::string>("id");
        if (rec.id.empty() || rec.id.size() > 128 || hasControl(rec.id) || !hub::isValidUtf8(rec.id))
            throw Invalid(where + ".id must be 1 to 128 bytes of printable UTF-8");
        auto fields = r->getObject("fields");
        if (!fields) throw Invalid(where + ".fields must be an object");
        if (fields->size() > SourcedFields::kMaxFieldsPerRecord)
            throw Invalid(where + " has more than " + std::to_string(SourcedFields::kMaxFieldsPerRecord) + " fields");
        for (const auto& [name, value] : *fields) {
            if (!validFieldName(name))
                throw Invalid(where + ".fields: field name '" + name.substr(0, 64) +
                              "' must be 1 to 64 of a-z, 0-9 and _");
            if (value.isEmpty()) {
                rec.fields.emplace_back(name, std::nullopt);
                continue;
            }
            if (!value.isString()) throw Invalid(where + ".fields." + name + " must be a string or null");
            std::string v = value.extract<std::string>();
            if (v.size() > SourcedFields::kMaxValueBytes || v.find('\0') != std::string::npos || !hub::isValidUtf8(v))
                throw Invalid(where + ".fields." + name + " must be at most " +
                              std::to_string(SourcedFields::kMaxValueBytes) + " bytes of UTF-8 without NUL");
            rec.fields.emplace_back(name, std::move(v));
        }
        records.push_back(std::move(rec));
    }
    return records;
}

// The directory's value of one of its fields, for the comparison; lists match
// when they hold exactly the submitted value.
std::string directoryValue(const Person& p, const std::string& field) {
    auto single = [](const std::vector<std::string>& v) { return v.size() == 1 ? v.front() : detail::jsonList(v); };
    if (field == "id") return p.id;
    if (field == "dn") return p.dn;
    if (field == "name") return p.name;
    if (field == "department") return p.department;
    if (field == "audience") return single(p.audience);
    if (field == "roles") return single(p.roles);
    if (field == "groups") return single(p.groups);
    if (field == "emails") return single(p.emails);
    if (field == "phones") return single(p.phones);
    return toString(p.status);
}

struct Summary {
    long long applied = 0, unchanged = 0, unknownPersons = 0, conflictCount = 0;
    std::string conflicts;  // JSON array elements, the first kMaxReportedConflicts

    void conflict(const std::string& id, const std::string& field, const std::string& owner,
                  const std::optional<std::string>& value, const std::optional<std::string>& ownerValue,
                  const std::string& reason) {
        if (conflictCount++ >= static_cast<long long>(SourcedFields::kMaxReportedConflicts)) return;
        using json::appendKey;
        using json::appendString;
        if (!conflicts.empty()) conflicts += ',';
        conflicts += '{';
        appendKey(conflicts, "id");
        appendString(conflicts, id);
        conflicts += ',';
        appendKey(conflicts, "field");
        appendString(conflicts, field);
        conflicts += ',';
        appendKey(conflicts, "owner");
        appendString(conflicts, owner);
        conflicts += ',';
        appendKey(conflicts, "value");
        if (value) appendString(conflicts, *value);
        else conflicts += "null";
        conflicts += ',';
        appendKey(conflicts, "owner_value");
        if (ownerValue) appendString(conflicts, *ownerValue);
        else conflicts += "null";
        conflicts += ',';
        appendKey(conflicts, "reason");
        appendString(conflicts, reason);
        conflicts += '}';
    }

    std::string json() const {
        std::string out = "{";
        json::appendKey(out, "applied");
        json::appendNumber(out, static_cast<std::int64_t>(applied));
        out += ',';
        json::appendKey(out, "unchanged");
        json::appendNumber(out, static_cast<std::int64_t>(unchanged));
        out += ',';
        json::appendKey(out, "unknown_persons");
        json::appendNumber(out, static_cast<std::int64_t>(unknownPersons));
        out += ',';
        json::appendKey(out, "conflict_count");
        json::appendNumber(out, static_cast<std::int64_t>(conflictCount));
        out += ',';
        json::appendKey(out, "conflicts");
        out += '[' + conflicts + "]}";
        return out;
    }
};

}  // namespace

SourcedFields::SourcedFields(store::Database& db) : db_(db) {
    db_.migrate("identity", IdentityStore::migrations());  // identity_persons, which submit() reads
    db_.migrate("identity_sourced", migrations());
}

const std::vector<store::Migration>& SourcedFields::migrations() {
    static const std::vector<store::Migration> m = {
        {1,
         {"CREATE TABLE identity_sourced_fields ("
          " person_id TEXT NOT NULL,"
          " field TEXT NOT NULL,"
          " value TEXT NOT NULL,"
          " source TEXT NOT NULL,"
          " updated_at TEXT NOT NULL,"
          " PRIMARY KEY (person_id, field))"},
         // PostgreSQL: ids and field names compare bytewise, as on SQLite (of() lists by field).
         {"CREATE TABLE identity_sourced_fields ("
          " person_id TEXT COLLATE \"C\" NOT NULL,"
          " field TEXT COLLATE \"C\" NOT NULL,"
          " value TEXT NOT NULL,"
          " source TEXT NOT NULL,"
          " updated_at TEXT NOT NULL,"
          " PRIMARY KEY (person_id, field))"}}};
    return m;
}

const std::vector<std::string>& SourcedFields::directoryFields() {
    static const std::vector<std::string> fields{"id",     "dn",     "name",   "department", "audience",
                                                 "roles",  "groups", "emails", "phones",     "status"};
    return fields;
}

namespace {

// On PostgreSQL every statement of a submit takes the batch as array
// parameters (unnest, = ANY) and is prepared once per pooled connection: one
// round trip each, where Poco's connector prepared, ran the insert once per
// field row and deallocated (docs/bench/identity.md). On SQLite the writes go
// row by row through statements prepared once per connection.
const char* kPersonsPostgres =
    "SELECT id, name, department, audience, roles, member_of, emails, phones, dn"
    " FROM identity_persons WHERE status = 'active' AND id = ANY(?::text[])";
const char* kStoredPostgres =
    "SELECT person_id, field, value, source FROM identity_sourced_fields WHERE person_id = ANY(?::text[])";
const char* kUpsertPostgres =
    "INSERT INTO identity_sourced_fields (person_id, field, value, source, updated_at)"
    " SELECT u.p, u.f, u.v, ?, ? FROM unnest(?::text[], ?::text[], ?::text[]) AS u(p, f, v)"
    " ON CONFLICT (person_id, field) DO UPDATE SET"
    " value = excluded.value, source = excluded.source, updated_at = excluded.updated_at";
const char* kDeletePostgres =
    "DELETE FROM identity_sourced_fields WHERE (person_id, field) IN"
    " (SELECT u.p, u.f FROM unnest(?::text[], ?::text[]) AS u(p, f))";
const char* kUpsertSqlite =
    "INSERT INTO identity_sourced_fields (person_id, field, value, source, updated_at)"
    " VALUES (?, ?, ?, ?, ?) ON CONFLICT (person_id, field) DO UPDATE SET"
    " value = excluded.value, source = excluded.source, updated_at = excluded.updated_at";
const char* kDeleteSqlite = "DELETE FROM identity_sourced_fields WHERE person_id = ? AND field = ?";

std::string postgresArray(const std::vector<std::string>& values) {
    std::size_t bytes = 0;
    for (const auto& v : values) bytes += v.size() + 3;
    detail::PostgresArray array(bytes);
    for (const auto& v : values) array.add(v);
    return std::move(array.finish());
}

// "?, ?, ?" for n values.
std::string placeholders(std::size_t n) {
    std::string out;
    for (std::size_t i = 0; i < n; ++i) out += i ? ", ?" : "?";
    return out;
}

Person personFromRow(std::string id, std::string name, std::string department, const std::string& audience,
                     const std::string& roles, const std::string& groups, const std::string& emails,
                     const std::string& phones, std::string dn) {
    Person p;
    p.id = std::move(id);
    p.name = std::move(name);
    p.department = std::move(department);
    p.audience = detail::parseJsonList(audience);
    p.roles = detail::parseJsonList(roles);
    p.groups = detail::parseJsonList(groups);
    p.emails = detail::parseJsonList(emails);
    p.phones = detail::parseJsonList(phones);
    p.dn = std::move(dn);
    return p;
}

// The directory's active persons among ids, by id (one query for the batch).
std::map<std::string, Person> directoryPersons(Poco::Data::Session& s, std::vector<std::string>& ids) {
    std::map<std::string, Person> persons;
    if (store::dialectOf(s) == store::Dialect::PostgreSql) {
        store::PreparedStatement read(s, kPersonsPostgres);
        read.bind(1, postgresArray(ids));
        while (read.next()) {
            Person p = personFromRow(read.text(0), read.text(1), read.text(2), read.text(3), read.text(4),
                                     read.text(5), read.text(6), read.text(7), read.text(8));
            const std::string id = p.id;
            persons[id] = std::move(p);
        }
        return persons;
    }
    std::vector<std::string> id, name, department, audience, roles, groups, emails, phones, dn;
    Poco::Data::Statement read(s);
    read << "SELECT id, name, department, audience, roles, member_of, emails, phones, dn"
            " FROM identity_persons WHERE status = 'active' AND id IN (" +
                placeholders(ids.size()) + ")";
    for (auto& i : ids) read, use(i);
    read, into(id), into(name), into(department), into(audience), into(roles), into(groups), into(emails),
        into(phones), into(dn), now;
    for (std::size_t r = 0; r < id.size(); ++r)
        persons[id[r]] = personFromRow(id[r], name[r], department[r], audience[r], roles[r], groups[r], emails[r],
                                       phones[r], dn[r]);
    return persons;
}

struct Stored {
    std::string value, source;
};

// What the sources hold for ids: person id -> field -> value and source.
std::map<std::string, std::map<std::string, Stored>> storedFields(Poco::Data::Session& s, std::vector<std::string>& ids) {
    std::map<std::string, std::map<std::string, Stored>> stored;
    if (store::dialectOf(s) == store::Dialect::PostgreSql) {
        store::PreparedStatement read(s, kStoredPostgres);
        read.bind(1, postgresArray(ids));
        while (read.next()) stored[read.text(0)][read.text(1)] = {read.text(2), read.text(3)};
        return stored;
    }
    std::vector<std::string> person, field, value, source;
    Poco::Data::Statement read(s);
    read << "SELECT person_id, field, value, source FROM identity_sourced_fields WHERE person_id IN (" +
                placeholders(ids.size()) + ")";
    for (auto& i : ids) read, use(i);
    read, into(person), into(field), into(value), into(source), now;
    for (std::size_t r = 0; r < person.size(); ++r) stored[person[r]][field[r]] = {value[r], source[r]};
    return stored;
}

// What a submit writes: (person, field) -> the value, or nullopt to remove it.
// One entry per key, the later record's: an upsert may not touch a row twice
// in one statement, and a removal after a value (or a value after a removal)
// ends as the later record says.
using Writes = std::map<std::pair<std::string, std::string>, std::optional<std::string>>;

void writeFields(Poco::Data::Session& s, const Writes& writes, const std::string& source) {
    const std::string at = detail::nowIso();
    if (store::dialectOf(s) == store::Dialect::Sqlite) {
        store::PreparedStatement upsert(s, kUpsertSqlite), remove(s, kDeleteSqlite);
        for (const auto& [key, value] : writes) {
            if (value) upsert.bind(1, key.first).bind(2, key.second).bind(3, *value).bind(4, source).bind(5, at).execute();
            else remove.bind(1, key.first).bind(2, key.second).execute();
        }
        return;
    }
    std::vector<std::string> putIds, putFields, putValues, dropIds, dropFields;
    for (const auto& [key, value] : writes) {
        if (value) {
            putIds.push_back(key.first);
            putFields.push_back(key.second);
            putValues.push_back(*value);
        } else {
            dropIds.push_back(key.first);
            dropFields.push_back(key.second);
        }
    }
    if (!putIds.empty())
        store::PreparedStatement(s, kUpsertPostgres)
            .bind(1, source)
            .bind(2, at)
            .bind(3, postgresArray(putIds))
            .bind(4, postgresArray(putFields))
            .bind(5, postgresArray(putValues))
            .execute();
    if (!dropIds.empty())
        store::PreparedStatement(s, kDeletePostgres).bind(1, postgresArray(dropIds)).bind(2, postgresArray(dropFields)).execute();
}

}  // namespace

std::string SourcedFields::submit(const std::string& source, const std::vector<std::string>& owned,
                                  std::string_view recordsJson) {
    std::vector<Record> records = parseRecords(recordsJson);
    if (records.empty()) return Summary().json();
    const auto& directory = directoryFields();
    auto isDirectoryField = [&](const std::string& f) {
        return std::find(directory.begin(), directory.end(), f) != directory.end();
    };
    auto isOwned = [&](const std::string& f) { return std::find(owned.begin(), owned.end(), f) != owned.end(); };
    std::vector<std::string> ids;
    for (const auto& rec : records) ids.push_back(rec.id);
    Summary summary;
    Writes writes;
    Poco::Data::Session s = db_.session();
    // Reads the persons and their fields, then writes: the write lock first.
    store::WriteTransaction tx(s);
    {
        const auto persons = directoryPersons(s, ids);
        auto stored = storedFields(s, ids);
        for (Record& rec : records) {
            auto found = persons.find(rec.id);
            const Person* person = found == persons.end() ? nullptr : &found->second;
            if (!person) ++summary.unknownPersons;
            auto& mine = stored[rec.id];
            bool changed = false;
            for (auto& [field, value] : rec.fields) {
                if (isDirectoryField(field)) {
                    // The directory owns it: never written from here; a difference is reported.
                    if (!person) continue;
                    std::string owner = directoryValue(*person, field);
                    if (value != owner)
                        summary.conflict(rec.id, field, "ldap", value, owner,
                                         "the directory owns this field; the value differs and was not applied");
                    continue;
                }
                auto it = mine.find(field);
                if (it != mine.end() && it->second.source != source) {
                    summary.conflict(rec.id, field, it->second.source, value, it->second.value,
                                     "another source owns this field; not applied");
                    continue;
                }
                if (!isOwned(field)) {
                    summary.conflict(rec.id, field, "", value, std::nullopt,
                                     "this source does not own the field (declare identity.person." + field +
                                         " in its manifest); not applied");
                    continue;
                }
                if (!value) {
                    if (it == mine.end()) continue;
                    writes[{rec.id, field}] = std::nullopt;
                    mine.erase(it);
                    changed = true;
                    continue;
                }
                if (it != mine.end() && it->second.value == *value) continue;
                writes[{rec.id, field}] = *value;
                mine[field] = {*value, source};  // a record twice in one call: the later wins
                changed = true;
            }
            ++(changed ? summary.applied : summary.unchanged);
        }
        writeFields(s, writes, source);
    }
    tx.commit();
    return summary.json();
}

std::vector<SourcedField> SourcedFields::of(const std::string& personId) {
    std::vector<std::string> fields, values, sources, times;
    Poco::Data::Session s = db_.session();
    std::string id = personId;
    s << store::sql(s, "SELECT field, value, source, updated_at FROM identity_sourced_fields WHERE person_id = ?"
                       " ORDER BY field"),
        use(id), into(fields), into(values), into(sources), into(times), now;
    std::vector<SourcedField> out;
    for (std::size_t i = 0; i < fields.size(); ++i) out.push_back({fields[i], values[i], sources[i], times[i]});
    return out;
}

}  // namespace hub::identity
