#include "hub/api/AnswerPolicy.h"

#include <Poco/Exception.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/ParseHandler.h>
#include <Poco/JSON/Parser.h>
#include <Poco/JSON/Stringifier.h>
#include <Poco/StringTokenizer.h>
#include <Poco/Util/AbstractConfiguration.h>

#include <sstream>

namespace hub::api {

namespace {

using Poco::JSON::Object;
using Relation = AnswerPolicy::Relation;
using Record = AnswerPolicy::Record;

constexpr Relation kRelations[] = {Relation::Self, Relation::Department, Relation::Admin, Relation::Other};

const char* recordName(Record record) { return record == Record::Person ? "person" : "application"; }

// The members the API writes (identity::appendJson, flows::toJson): a name
// outside these is a typo in hub.xml, refused at start.
const std::set<std::string>& knownFields(Record record) {
    static const std::set<std::string> person = {"id",     "name",   "department", "audience", "roles",
                                                 "groups", "emails", "phones",     "status",   "updated_at"};
    static const std::set<std::string> application = {
        "id",           "item_id",    "status",          "applicant", "submitted_by", "department",
        "handler",      "form",       "materials",       "submitted_at", "updated_at", "time_limit_days",
        "due_date",     "overdue",    "completed_at",    "result",    "version",      "transitions"};
    return record == Record::Person ? person : application;
}

void checkNames(const AnswerPolicy::Fields& fields, Record record, const std::string& key) {
    for (const auto& name : fields.names) {
        const std::string top = name.substr(0, name.find('.'));
        if (!knownFields(record).count(top))
            throw Poco::InvalidArgumentException(key + ": '" + top + "' is not a field of a " + recordName(record));
    }
}

Object::Ptr parseObject(const std::string& json) {
    Poco::JSON::Parser parser(new Poco::JSON::ParseHandler(true));  // keep the members' order
    auto value = parser.parse(json);
    if (value.type() != typeid(Object::Ptr)) return nullptr;
    return value.extract<Object::Ptr>();
}

Object::Ptr only(const Object::Ptr& source, const std::set<std::string>& names) {
    Object::Ptr out = new Object(Poco::JSON_PRESERVE_KEY_ORDER);
    std::map<std::string, std::set<std::string>> nested;
    for (const auto& name : names) {
        auto dot = name.find('.');
        if (dot == std::string::npos) {
            if (source->has(name)) out->set(name, source->get(name));
        } else {
            nested[name.substr(0, dot)].insert(name.substr(dot + 1));
        }
    }
    for (const auto& [member, inner] : nested) {
        if (out->has(member)) continue;  // listed whole as well
        if (auto object = source->getObject(member)) out->set(member, only(object, inner));
    }
    return out;
}

void without(Object::Ptr object, const std::set<std::string>& names) {
    for (const auto& name : names) {
        auto dot = name.find('.');
        if (dot == std::string::npos) {
            object->remove(name);
        } else if (auto inner = object->getObject(name.substr(0, dot))) {
            without(inner, {name.substr(dot + 1)});
        }
    }
}

}  // namespace

AnswerPolicy::Fields AnswerPolicy::Fields::parse(const std::string& text, const std::string& key) {
    Fields fields;
    Poco::StringTokenizer tokens(text, " \t\r\n,", Poco::StringTokenizer::TOK_IGNORE_EMPTY);
    for (std::size_t i = 0; i < tokens.count(); ++i) {
        const std::string& token = tokens[i];
        if (token == "*") {
            if (i != 0) throw Poco::InvalidArgumentException(key + ": '*' must come first");
            fields.all = true;
            continue;
        }
        const bool excluded = token[0] == '-';
        if (excluded != fields.all)
            throw Poco::InvalidArgumentException(key + ": '" + token + "': " +
                                                 (excluded ? "'-name' only follows '*'" : "after '*' only '-name'"));
        std::string name = excluded ? token.substr(1) : token;
        const auto dot = name.find('.');
        if (name.empty() || dot == 0 || dot + 1 == name.size() || name.find('.', dot + 1) != std::string::npos)
            throw Poco::InvalidArgumentException(key + ": '" + token + "' is not a field name (name or name.member)");
        fields.names.insert(std::move(name));
    }
    return fields;
}

AnswerPolicy::AnswerPolicy() {
    const Fields all = Fields::parse("*", "");
    for (auto record : {Record::Person, Record::Application})
        for (auto relation : {Relation::Self, Relation::Department, Relation::Admin}) fields_[{record, relation}] = all;
    fields_[{Record::Person, Relation::Other}] = Fields::parse("id name department audience status", "");
    fields_[{Record::Application, Relation::Other}] = Fields::parse(
        "id item_id status department handler submitted_at updated_at time_limit_days due_date overdue completed_at "
        "version",
        "");
}

AnswerPolicy AnswerPolicy::fromConfig(const Poco::Util::AbstractConfiguration& config) {
    AnswerPolicy policy;
    const std::string base = "privacy.answers";
    Poco::Util::AbstractConfiguration::Keys records;
    config.keys(base, records);
    for (const auto& r : records) {
        if (r != "person" && r != "application")
            throw Poco::InvalidArgumentException(base + "." + r + ": unknown; person or application");
        const Record record = r == "person" ? Record::Person : Record::Application;
        Poco::Util::AbstractConfiguration::Keys relations;
        config.keys(base + "." + r, relations);
        for (const auto& name : relations) {
            const std::string key = base + "." + r + "." + name;
            const Relation* found = nullptr;
            for (const auto& relation : kRelations)
                if (name == AnswerPolicy::name(relation)) found = &relation;
            if (!found) throw Poco::InvalidArgumentException(key + ": unknown; self, department, admin or other");
            Fields fields = Fields::parse(config.getString(key), key);
            checkNames(fields, record, key);
            policy.fields_[{record, *found}] = std::move(fields);
        }
    }
    return policy;
}

const AnswerPolicy::Fields& AnswerPolicy::fields(Record record, Relation relation) const {
    return fields_.at({record, relation});
}

const char* AnswerPolicy::name(Relation relation) {
    switch (relation) {
    case Relation::Self: return "self";
    case Relation::Department: return "department";
    case Relation::Admin: return "admin";
    case Relation::Other: return "other";
    }
    return "other";
}

std::string AnswerPolicy::apply(Record record, Relation relation, const std::string& json) const {
    const Fields& f = fields(record, relation);
    if (f.all && f.names.empty()) return json;
    Object::Ptr object;
    try {
        object = parseObject(json);
    } catch (const Poco::Exception&) {
        return json;  // the hub's own writers: never malformed
    }
    if (!object) return json;
    if (f.all) {
        without(object, f.names);
    } else {
        object = only(object, f.names);
    }
    std::ostringstream out;
    Poco::JSON::Stringifier::condense(object, out);
    return out.str();
}

}  // namespace hub::api
