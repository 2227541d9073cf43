#include "hub/identity/IdentityDirectory.h"

#include "hub/identity/IdentityStore.h"

namespace hub::identity {

IdentityDirectory::IdentityDirectory(store::Database& db) : store_(std::make_unique<IdentityStore>(db)) {}
IdentityDirectory::~IdentityDirectory() = default;

std::optional<Person> IdentityDirectory::findById(const std::string& id) const {
    if (id.empty()) return std::nullopt;
    return store_->personById(id);
}

std::optional<Person> IdentityDirectory::findByEntryUuid(const std::string& entryUuid) const {
    return store_->personByUuid(entryUuid);
}

IdentityDirectory::Page IdentityDirectory::search(const std::string& query, std::size_t limit,
                                                  const std::string& cursor) const {
    Page page;
    if (limit == 0) return page;
    limit = std::min(limit, maxPageSize);
    // One extra row tells whether another page exists (the store must not cap it
    // at the page size: a full page of 1000 then looked like the last one).
    page.persons = store_->searchPersons(query, limit + 1, cursor);
    if (page.persons.size() > limit) {
        page.persons.resize(limit);
        page.nextCursor = page.persons.back().id;
    }
    return page;
}

std::vector<std::string> IdentityDirectory::audienceOf(const std::string& id) const {
    auto p = findById(id);
    if (!p || p->status != PersonStatus::Active) return {};
    return p->audience;
}

std::vector<std::string> IdentityDirectory::rolesOf(const std::string& id) const {
    auto p = findById(id);
    if (!p || p->status != PersonStatus::Active) return {};
    return p->roles;
}

std::size_t IdentityDirectory::activeCount() const { return store_->countPersons(PersonStatus::Active); }

}  // namespace hub::identity
