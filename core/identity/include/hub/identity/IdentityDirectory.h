#pragma once

#include "hub/identity/Person.h"

#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace hub::store {
class Database;
}

namespace hub::identity {

class IdentityStore;

/// Read side of the identity store, for the API and authorisation. Thread-safe.
class IdentityDirectory {
public:
    explicit IdentityDirectory(store::Database& db);
    ~IdentityDirectory();

    /// The person with this id (active preferred over departed), or nothing.
    /// Callers authorising a request must also check `status == Active`.
    std::optional<Person> findById(const std::string& id) const;
    std::optional<Person> findByEntryUuid(const std::string& entryUuid) const;

    /// The largest page search() returns.
    static constexpr std::size_t maxPageSize = 1000;

    struct Page {
        std::vector<Person> persons;
        std::string nextCursor;  ///< Pass as `cursor` for the next page; empty: no more.
    };
    /// Active persons whose id, name, department or e-mail contains `query`
    /// (case-insensitive for ASCII, literal: % and _ match themselves), by id.
    /// `limit` is capped at maxPageSize. The last page has an empty nextCursor.
    Page search(const std::string& query, std::size_t limit = 50, const std::string& cursor = {}) const;

    /// Audience (student/teacher/staff/...) of an active person; empty if unknown or departed.
    std::vector<std::string> audienceOf(const std::string& id) const;
    /// Roles of an active person; empty if unknown or departed.
    std::vector<std::string> rolesOf(const std::string& id) const;
    /// Number of active persons.
    std::size_t activeCount() const;

private:
    std::unique_ptr<IdentityStore> store_;
};

}  // namespace hub::identity
