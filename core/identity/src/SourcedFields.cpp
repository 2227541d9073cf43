#include "hub/identity/SourcedFields.h"

#include "Json.h"

#include "hub/common/JsonWriter.h"
#include "hub/common/Utf8.h"
#include "hub/identity/IdentityStore.h"
#include "hub/store/Database.h"
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

// "?, ?, ?" for n values.
std::string placeholders(std::size_t n) {
    std::string out;
    for (std::size_t i = 0; i < n; ++i) out += i ? ", ?" : "?";
    return out;
}

// The directory's active persons among ids, by id (one query for the batch).
std::map<std::string, Person> directoryPersons(Poco::Data::Session& s, std::vector<std::string>& ids) {
    std::vector<std::string> id, name, department, audience, roles, groups, emails, phones, dn;
    Poco::Data::Statement read(s);
    read << store::sql(s, "SELECT id, name, department, audience, roles, member_of, emails, phones, dn"
                          " FROM identity_persons WHERE status = 'active' AND id IN (" +
                              placeholders(ids.size()) + ")");
    for (auto& i : ids) read, use(i);
    read, into(id), into(name), into(department), into(audience), into(roles), into(groups), into(emails),
        into(phones), into(dn), now;
    std::map<std::string, Person> persons;
    for (std::size_t r = 0; r < id.size(); ++r) {
        Person p;
        p.id = id[r];
        p.name = name[r];
        p.department = department[r];
        p.audience = detail::parseJsonList(audience[r]);
        p.roles = detail::parseJsonList(roles[r]);
        p.groups = detail::parseJsonList(groups[r]);
        p.emails = detail::parseJsonList(emails[r]);
        p.phones = detail::parseJsonList(phones[r]);
        p.dn = dn[r];
        persons[p.id] = std::move(p);
    }
    return persons;
}

struct Stored {
    std::string value, source;
};

// What the sources hold for ids: person id -> field -> value and source.
std::map<std::string, std::map<std::string, Stored>> storedFields(Poco::Data::Session& s, std::vector<std::string>& ids) {
    std::vector<std::string> person, field, value, source;
    Poco::Data::Statement read(s);
    read << store::sql(s, "SELECT person_id, field, value, source FROM identity_sourced_fields WHERE person_id IN (" +
                              placeholders(ids.size()) + ")");
    for (auto& i : ids) read, use(i);
    read, into(person), into(field), into(value), into(source), now;
    std::map<std::string, std::map<std::string, Stored>> stored;
    for (std::size_t r = 0; r < person.size(); ++r) stored[person[r]][field[r]] = {value[r], source[r]};
    return stored;
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
    // What is written, as columns: one statement each for the batch.
    std::vector<std::string> putIds, putFields, putValues, dropIds, dropFields;
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
                    dropIds.push_back(rec.id);
                    dropFields.push_back(field);
                    mine.erase(it);
                    changed = true;
                    continue;
                }
                if (it != mine.end() && it->second.value == *value) continue;
                putIds.push_back(rec.id);
                putFields.push_back(field);
                putValues.push_back(*value);
                mine[field] = {*value, source};  // a record twice in one call: the later wins
                changed = true;
            }
            ++(changed ? summary.applied : summary.unchanged);
        }
        if (!putIds.empty()) {
            std::vector<std::string> sources(putIds.size(), source), times(putIds.size(), detail::nowIso());
            s << store::sql(s, "INSERT INTO identity_sourced_fields (person_id, field, value, source, updated_at)"
                               " VALUES (?, ?, ?, ?, ?) ON CONFLICT (person_id, field) DO UPDATE SET"
                               " value = excluded.value, source = excluded.source, updated_at = excluded.updated_at"),
                use(putIds), use(putFields), use(putValues), use(sources), use(times), now;
        }
        if (!dropIds.empty())
            s << store::sql(s, "DELETE FROM identity_sourced_fields WHERE person_id = ? AND field = ?"),
                use(dropIds), use(dropFields), now;
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
