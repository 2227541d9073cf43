#pragma once

#include "hub/identity/Person.h"

#include <cstddef>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace hub::store {
class Database;
struct Migration;
}  // namespace hub::store

namespace hub::identity {

/// Person fields that come from a source other than the directory: an HR
/// system's employment status, title, hire date... (table identity_sourced_fields,
/// one row per person and field, naming the source that wrote it).
///
/// The one-source rule: each field has exactly one owner. The directory (LDAP,
/// through the Syncer) owns directoryFields(); a plugin owns the fields its
/// manifest declares (<owns><data>identity.person.FIELD</data>). A source's
/// value for a field it does not own is never written: submit() reports it as a
/// conflict when it differs from the owner's. Thread-safe as Database is.
class SourcedFields {
public:
    /// Applies the schema (module "identity_sourced").
    explicit SourcedFields(store::Database& db);

    static const std::vector<store::Migration>& migrations();

    /// The person fields the directory sync owns (the mapped columns of
    /// identity_persons): id, dn, name, department, audience, roles, groups,
    /// emails, phones, status.
    static const std::vector<std::string>& directoryFields();

    /// Limits of one submit().
    static constexpr std::size_t kMaxRecords = 1000;
    static constexpr std::size_t kMaxFieldsPerRecord = 64;
    static constexpr std::size_t kMaxValueBytes = 4096;
    static constexpr std::size_t kMaxReportedConflicts = 100;

    /// Thrown by submit() for a malformed document (what() names the record and field).
    class InvalidRecords : public std::runtime_error {
    public:
        using std::runtime_error::runtime_error;
    };

    /// Applies a source's records in one transaction: {"records": [{"id": "...",
    /// "fields": {"FIELD": "value" | null}}]} (null removes the source's value).
    /// Only `owned` fields are written; a directory field whose value differs
    /// from the directory's, or a field another source owns, is a conflict;
    /// a field nobody owns that is not in `owned` is a conflict with owner "".
    /// Returns the summary as JSON (see ch_host_api's identity_submit).
    std::string submit(const std::string& source, const std::vector<std::string>& owned, std::string_view recordsJson);

    /// The person's sourced fields, by field name.
    std::vector<SourcedField> of(const std::string& personId);

private:
    store::Database& db_;
};

}  // namespace hub::identity
