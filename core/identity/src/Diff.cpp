#include "Diff.h"

namespace hub::identity {

void diffPerson(Person&& p, std::unordered_map<std::string, IdentityStore::PersonState>& states, SyncReport& report,
                IdentityStore::Batch& batch, bool reportChanges) {
    FieldHashes h = IdentityStore::hashPerson(p);
    auto [it, created] = states.try_emplace(p.entryUuid);
    IdentityStore::PersonState& state = it->second;
    if (!created && state.hashes == h) {
        state.seen = true;
        ++report.unchanged;
        return;
    }
    ++(created ? report.created : report.updated);
    if (reportChanges) {
        IdentityChange change;
        change.kind = created ? ChangeKind::Created : ChangeKind::Updated;
        const auto& names = IdentityStore::personFieldNames();
        if (!created)
            for (std::size_t i = 0; i < h.size(); ++i)
                if (h[i] != state.hashes[i]) change.changedFields.push_back(names[i]);
        // The Person itself is moved into the change once its row is written.
        change.subject = "person";
        change.id = p.id;
        change.entryUuid = p.entryUuid;
        batch.changes.push_back(std::move(change));
        batch.changePerson.push_back(static_cast<long>(batch.persons.size()));
    }
    state = IdentityStore::PersonState{h, p.status, true};
    batch.personHashes.push_back(h);
    batch.persons.push_back(std::move(p));
}

void queueChange(IdentityStore::Batch& batch, ChangeKind kind, const Org& o) {
    IdentityChange c;
    c.kind = kind;
    c.subject = "org";
    c.id = o.dn;
    c.entryUuid = o.entryUuid;
    c.org = o;
    batch.changes.push_back(std::move(c));
    batch.changePerson.push_back(-1);
    batch.orgs.push_back(o);
}

void queueChange(IdentityStore::Batch& batch, ChangeKind kind, const Group& g) {
    IdentityChange c;
    c.kind = kind;
    c.subject = "group";
    c.id = g.dn;
    c.entryUuid = g.entryUuid;
    c.group = g;
    batch.changes.push_back(std::move(c));
    batch.changePerson.push_back(-1);
    batch.groups.push_back(g);
}

bool sameAs(const Org& a, const Org& b) {
    return a.dn == b.dn && a.name == b.name && a.description == b.description && a.status == b.status;
}

bool sameAs(const Group& a, const Group& b) {
    return a.dn == b.dn && a.name == b.name && a.members == b.members && a.status == b.status;
}

}  // namespace hub::identity
