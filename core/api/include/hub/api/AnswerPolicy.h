#pragma once

#include <map>
#include <set>
#include <string>

namespace Poco::Util {
class AbstractConfiguration;
}

namespace hub::api {

/// Least data in answers (docs/privacy.md): which fields of a person or of an
/// application each caller sees, by how the caller stands to the record.
/// Configured under privacy.answers in hub.xml, checked when hubd starts; what
/// is not configured keeps the safe default.
class AnswerPolicy {
public:
    /// How the caller stands to the record.
    enum class Relation {
        Self,        ///< The person themselves; the applicant.
        Department,  ///< A clerk or admin of the person's, or the application's, department.
        Admin,       ///< hub:admin, none of the above.
        Other,       ///< Anyone else allowed to read: a clerk of another department (e.g. a joint review).
    };
    enum class Record { Person, Application };

    /// A field list: "*" (every field), "* -a -b.c" (every field but these),
    /// or "a b form.c" (only these; "x.y" is member y of object member x).
    struct Fields {
        bool all = false;
        std::set<std::string> names;  ///< Listed, or excluded after "*".
        static Fields parse(const std::string& text, const std::string& key);
    };

    /// The defaults: everything for the person themselves, their department
    /// and hub:admin; to others a person's id, name, department, audience and
    /// status, and an application's state without its form, materials and result.
    AnswerPolicy();

    /// Reads privacy.answers.{person,application}.{self,department,admin,other}.
    /// Throws Poco::InvalidArgumentException naming the key for an unknown
    /// element or a malformed list.
    static AnswerPolicy fromConfig(const Poco::Util::AbstractConfiguration& config);

    /// The JSON object json (as the API writes the record) with only the fields
    /// relation may see. A body that is not a JSON object is returned as is.
    std::string apply(Record record, Relation relation, const std::string& json) const;

    const Fields& fields(Record record, Relation relation) const;

    static const char* name(Relation relation);

private:
    std::map<std::pair<Record, Relation>, Fields> fields_;
};

}  // namespace hub::api
