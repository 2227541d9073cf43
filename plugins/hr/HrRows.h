#pragma once
// The HR export's columns and what a good row is (docs/adapters/hr.md, "The
// export"). A row becomes an identity record for the hub: {"id", "fields": {...}}.

#include <cstddef>
#include <string>
#include <unordered_map>
#include <vector>

namespace hr {

/// The export's header row mapped to the hub's person fields.
class Columns {
public:
    /// Reads the header record; throws std::invalid_argument when it has no
    /// employee_id (工号) column or names a field twice.
    explicit Columns(const std::vector<std::string>& header);

    std::size_t count() const { return fields_.size(); }
    /// Header names that are none of the known columns (left out of the records).
    const std::vector<std::string>& ignored() const { return ignored_; }

    /// The record of a row as JSON ({"id": "...", "fields": {...}}), or throws
    /// std::invalid_argument with the reason the row is bad. Blank values are
    /// left out (HR did not fill them).
    std::string record(const std::vector<std::string>& row, std::string& id) const;

private:
    std::vector<std::string> fields_;  // per column: the hub's field, "" when ignored
    std::vector<std::string> headers_;
    std::vector<std::string> ignored_;
    std::size_t idColumn_ = 0;
};

/// The person fields the HR system owns (its manifest's identity.person.* data).
const std::vector<std::string>& hrOwnedFields();

/// Longest value of one field.
inline constexpr std::size_t kMaxValueBytes = 4096;

}  // namespace hr
