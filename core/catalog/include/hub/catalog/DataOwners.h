#pragma once

#include <memory>
#include <string>
#include <vector>

namespace Poco::Util {
class AbstractConfiguration;
}

namespace hub::catalog {

/// The one system that owns a field of a person or an application form
/// ("one datum, one source", docs/privacy.md): the directory, through the
/// identity store, or a department system, through its plugin's operation.
struct FieldOwner {
    std::string field;      ///< The form field's id ("name", "enrolment_status").
    std::string source;     ///< "directory" or "plugin:<system>".
    std::string attribute;  ///< Directory: the person's attribute (id, name, department, email, phone).
    std::string plugin;     ///< Plugin: the system ("student_affairs").
    std::string operation;  ///< Plugin: the operation that answers it ("get_student").
    std::string key;        ///< Plugin: the input member that carries the applicant's id ("student_id").
    std::string result;     ///< Plugin: the answer's member holding the value (default: the field).
    std::string where;      ///< The config key it was read from, for messages.

    bool fromDirectory() const { return source == "directory"; }
};

/// The registry of owned fields, read from hubd's configuration:
///
///     privacy.owners.field[i][@name], [@source] ("directory" or "plugin:<system>"),
///         directory: [@attribute] (default: the name; id, name, department,
///                    email, phone or audience)
///         plugin:    [@operation], [@key], [@result] (default: the name)
///     or privacy.ownersFile: an XML file <owners><field .../>...</owners>
///
/// Immutable; a reload builds a new one.
class DataOwners {
public:
    /// Reads and checks the registry; throws config::ConfigError naming the key
    /// and what is wrong: a field listed twice (naming both sources), an unknown
    /// source or attribute, a plugin source without its operation or key.
    static std::shared_ptr<const DataOwners> fromConfig(const Poco::Util::AbstractConfiguration& config);

    /// The owner of `field`, or null when no system owns it.
    const FieldOwner* find(const std::string& field) const;
    const std::vector<FieldOwner>& all() const { return owners_; }

private:
    std::vector<FieldOwner> owners_;
};

}  // namespace hub::catalog
