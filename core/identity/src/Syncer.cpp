#include "hub/identity/Syncer.h"

#include "Json.h"
#include "hub/identity/IdentityStore.h"
#include "hub/ldap/Connection.h"
#include "hub/ldap/Filter.h"
#include "hub/ldap/LdapException.h"

#include <Poco/Logger.h>
#include <Poco/StringTokenizer.h>
#include <Poco/Util/AbstractConfiguration.h>

#include <chrono>
#include <condition_variable>
#include <deque>
#include <optional>
#include <set>
#include <thread>
#include <unordered_map>
#include <unordered_set>

namespace hub::identity {

namespace {

Poco::Logger& logger() { return Poco::Logger::get("hub.identity"); }

enum class Kind { Person, Org, Group, Other };

// Persons mapped by the reading thread, and what the comparing thread found changed.
struct PersonBatch {
    std::vector<Person> mapped;
    IdentityStore::Batch changed;  ///< The created and updated persons, to store.
};

// A bounded queue between two stages of the full sync, so memory stays at a few
// batches and no stage runs far ahead of a failing one. close(): nothing more comes;
// abort(): a stage failed, pushing and popping stop at once.
class StageQueue {
public:
    explicit StageQueue(std::size_t depth) : depth_(std::max<std::size_t>(1, depth)) {}
    bool push(PersonBatch&& batch) {
        std::unique_lock lock(m_);
        cv_.wait(lock, [&] { return q_.size() < depth_ || aborted_; });
        if (aborted_) return false;
        q_.push_back(std::move(batch));
        cv_.notify_all();
        return true;
    }
    // Everything queued, at most `most` batches (waits for one).
    std::vector<PersonBatch> popUpTo(std::size_t most) {
        std::vector<PersonBatch> out;
        std::unique_lock lock(m_);
        cv_.wait(lock, [&] { return !q_.empty() || closed_ || aborted_; });
        if (aborted_) return out;
        while (!q_.empty() && out.size() < most) {
            out.push_back(std::move(q_.front()));
            q_.pop_front();
        }
        cv_.notify_all();
        return out;
    }
    std::optional<PersonBatch> pop() {
        std::unique_lock lock(m_);
        cv_.wait(lock, [&] { return !q_.empty() || closed_ || aborted_; });
        if (aborted_ || q_.empty()) return std::nullopt;
        auto batch = std::move(q_.front());
        q_.pop_front();
        cv_.notify_all();
        return batch;
    }
    void close() {
        std::lock_guard lock(m_);
        closed_ = true;
        cv_.notify_all();
    }
    void abort() {
        std::lock_guard lock(m_);
        aborted_ = true;
        cv_.notify_all();
    }

private:
    std::size_t depth_;
    std::mutex m_;
    std::condition_variable cv_;
    std::deque<PersonBatch> q_;
    bool closed_ = false, aborted_ = false;
};

// Stored batches on their way back to the reading thread, which allocated their
// persons, to be freed there: freeing on another thread contends for the reader's
// malloc arena, which the reader needs all the time.
class SpentBatches {
public:
    void giveBack(PersonBatch&& batch) {
        std::lock_guard lock(m_);
        spent_.push_back(std::move(batch));
    }
    // Called by the reading thread.
    void free() {
        std::vector<PersonBatch> spent;
        {
            std::lock_guard lock(m_);
            spent.swap(spent_);
        }
    }

private:
    std::mutex m_;
    std::vector<PersonBatch> spent_;
};

std::string uuidOf(const ldap::Entry& e) {
    std::string u = e.first("entryUUID");
    return u.empty() ? "dn:" + normalizeDn(e.dn) : u;
}

std::vector<std::string> splitList(const std::string& text) {
    std::vector<std::string> out;
    Poco::StringTokenizer t(text, ",", Poco::StringTokenizer::TOK_TRIM | Poco::StringTokenizer::TOK_IGNORE_EMPTY);
    for (const auto& s : t) out.push_back(s);
    return out;
}

struct SyncReplCollector : ldap::SyncHandler {
    std::vector<std::pair<ldap::Entry, std::string>> changed;
    std::unordered_set<std::string> present, deleted;
    void onEntry(ldap::Entry&& e, const std::string& uuid, ldap::SyncState s) override {
        switch (s) {
            case ldap::SyncState::Add:
            case ldap::SyncState::Modify: changed.emplace_back(std::move(e), uuid); break;
            case ldap::SyncState::Delete: deleted.insert(uuid); break;
            case ldap::SyncState::Present: present.insert(uuid); break;
        }
    }
    void onIdSet(const std::vector<std::string>& ids, bool isDelete) override {
        for (const auto& id : ids) (isDelete ? deleted : present).insert(id);
    }
};

}  // namespace

SyncOptions SyncOptions::fromConfig(const Poco::Util::AbstractConfiguration& c) {
    SyncOptions o;
    o.ldap = ldap::ConnectionOptions::fromConfig(*c.createView("ldap"));
    o.base = c.getString("ldap.base", o.base);
    o.personClass = c.getString("ldap.personClass", o.personClass);
    o.orgClass = c.getString("ldap.orgClass", o.orgClass);
    if (c.has("ldap.groupClasses")) o.groupClasses = splitList(c.getString("ldap.groupClasses"));
    o.personFilter = c.getString("ldap.personFilter", o.personFilter);
    o.mapping = Mapping::fromConfig(*c.createView("mapping"));
    std::string method = c.getString("sync.method", "auto");
    if (method == "syncrepl") o.method = Method::SyncRepl;
    else if (method == "timestamp") o.method = Method::Timestamp;
    else if (method == "auto") o.method = Method::Auto;
    else throw Poco::InvalidArgumentException("identity.sync.method must be auto, syncrepl or timestamp", method);
    o.maxDepartureShare = c.getDouble("sync.maxDepartureShare", o.maxDepartureShare);
    o.source = c.getString("sync.source", o.source);
    o.intervalSeconds = c.getInt("sync.intervalSeconds", o.intervalSeconds);
    if (o.base.empty()) throw Poco::InvalidArgumentException("identity.ldap.base is required");
    return o;
}

std::string SyncStatus::toJson() const {
    using detail::appendJsonString;
    std::string out = "{";
    auto str = [&](const char* k, const std::string& v) {
        if (out.size() > 1) out += ',';
        appendJsonString(out, k);
        out += ':';
        appendJsonString(out, v);
    };
    auto num = [&](const char* k, long long v) {
        out += ',';
        appendJsonString(out, k);
        out += ':' + std::to_string(v);
    };
    str("source", source);
    out += std::string(",\"running\":") + (running ? "true" : "false");
    out += std::string(",\"hasCookie\":") + (hasCookie ? "true" : "false");
    str("highWater", highWater);
    str("lastMethod", lastMethod);
    str("lastRunAt", lastRunAt);
    str("lastSuccessAt", lastSuccessAt);
    str("lastStatus", lastStatus);
    str("lastError", lastError);
    str("alert", alert);
    num("created", created);
    num("updated", updated);
    num("departed", departed);
    num("unchanged", unchanged);
    num("read", read);
    num("durationMs", durationMs);
    num("activePersons", static_cast<long long>(activePersons));
    out += '}';
    return out;
}

struct Syncer::Run {
    SyncReport report;
    bool allowMassDeparture = false;
    bool incremental = false;
    std::unordered_map<std::string, IdentityStore::PersonState> persons;
    std::size_t activePersonsBefore = 0;
    std::unordered_map<std::string, Org> orgs;
    std::unordered_map<std::string, Group> groups;
    GroupIndex index;
    std::unordered_set<std::string> seen;     // every uuid read, changed or present
    std::unordered_set<std::string> deleted;  // explicit deletions (syncrepl)
    bool presenceComplete = false;            // seen lists everything that exists
    std::string maxTimestamp;
    std::string cookie;
    std::set<std::string> affectedMembers;    // members of groups that changed (incremental)
    IdentityStore::SyncState state;
};

namespace {

Kind classify(const ldap::Entry& e, const SyncOptions& o) {
    if (e.hasValue("objectClass", o.personClass)) return Kind::Person;
    for (const auto& g : o.groupClasses)
        if (e.hasValue("objectClass", g)) return Kind::Group;
    if (e.hasValue("objectClass", o.orgClass)) return Kind::Org;
    return Kind::Other;
}

std::string classFilter(const std::string& cls) { return "(objectClass=" + ldap::escapeFilterValue(cls) + ")"; }

std::string personFilterOf(const SyncOptions& o) {
    std::string f = classFilter(o.personClass);
    return o.personFilter.empty() ? f : "(&" + f + o.personFilter + ")";
}

std::string groupFilterOf(const SyncOptions& o) {
    std::string f = "(|";
    for (const auto& g : o.groupClasses) f += classFilter(g);
    return f + ")";
}

std::string allFilterOf(const SyncOptions& o) {
    return "(|" + personFilterOf(o) + classFilter(o.orgClass) + groupFilterOf(o) + ")";
}

std::vector<std::string> allAttributes(const SyncOptions& o) {
    std::vector<std::string> a = o.mapping.personAttributes();
    for (const char* extra : {"objectClass", "entryUUID", "modifyTimestamp", "ou", "description", "cn", "member",
                              "uniqueMember", "memberUid"})
        if (std::find(a.begin(), a.end(), extra) == a.end()) a.push_back(extra);
    return a;
}


}  // namespace

// --- diffing: one function per kind, appending to a batch ----------------------------

namespace {

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

// Queues the row and the change record of a unit or a group.
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

bool sameOrg(const Org& a, const Org& b) {
    return a.dn == b.dn && a.name == b.name && a.description == b.description && a.status == b.status;
}
bool sameGroup(const Group& a, const Group& b) {
    return a.dn == b.dn && a.name == b.name && a.members == b.members && a.status == b.status;
}

}  // namespace

Syncer::Syncer(store::Database& db, SyncOptions options, ChangeSink sink)
    : db_(db), options_(std::move(options)), sink_(std::move(sink)), store_(std::make_unique<IdentityStore>(db)) {}

Syncer::~Syncer() = default;

SyncReport Syncer::runFull(bool allowMassDeparture) { return execute("full", allowMassDeparture, true); }

SyncReport Syncer::runIncremental(bool allowMassDeparture) { return execute("incremental", allowMassDeparture, false); }

SyncStatus Syncer::status() const {
    auto s = store_->readSyncState(options_.source);
    SyncStatus out;
    out.source = s.source;
    out.running = running_.load();
    out.hasCookie = !s.cookie.empty();
    out.highWater = s.highWater;
    out.lastMethod = s.lastMethod;
    out.lastRunAt = s.lastRunAt;
    out.lastSuccessAt = s.lastSuccessAt;
    out.lastStatus = s.lastStatus;
    out.lastError = s.lastError;
    out.alert = s.alert;
    out.created = s.created;
    out.updated = s.updated;
    out.departed = s.departed;
    out.unchanged = s.unchanged;
    out.read = s.read;
    out.durationMs = s.durationMs;
    out.activePersons = store_->countPersons(PersonStatus::Active);
    return out;
}

SyncReport Syncer::execute(const char* what, bool allowMassDeparture, bool full) {
    std::lock_guard lock(runMutex_);
    running_ = true;
    struct Reset {
        std::atomic<bool>& flag;
        ~Reset() { flag = false; }
    } reset{running_};

    auto started = std::chrono::steady_clock::now();
    Run run;
    run.allowMassDeparture = allowMassDeparture;
    run.state = store_->readSyncState(options_.source);
    run.state.lastRunAt = detail::nowIso();
    try {
        run.persons = store_->loadPersonStates();
        for (const auto& [uuid, st] : run.persons)
            if (st.status == PersonStatus::Active) ++run.activePersonsBefore;
        for (auto& o : store_->loadOrgs()) run.orgs.emplace(o.entryUuid, std::move(o));
        for (auto& g : store_->loadGroups()) run.groups.emplace(g.entryUuid, std::move(g));
        for (const auto& [uuid, g] : run.groups) run.index.add(g);

        bool haveCookie = !run.state.cookie.empty();
        bool haveMark = !run.state.highWater.empty();
        bool doFull = full;
        bool useSyncRepl = false;
        if (!doFull) {
            if (options_.method == SyncOptions::Method::SyncRepl) useSyncRepl = haveCookie, doFull = !haveCookie;
            else if (options_.method == SyncOptions::Method::Timestamp) doFull = !haveMark;
            else if (haveCookie) useSyncRepl = true;
            else doFull = !haveMark;
        }
        if (doFull) {
            fullRead(run);
        } else if (useSyncRepl) {
            syncReplRead(run, run.state.cookie);
        } else {
            timestampRead(run, run.state.highWater);
        }
        finish(run);
        run.report.success = !run.report.guarded;
    } catch (const ldap::LdapException& e) {
        run.report.success = false;
        run.report.directoryError = true;
        run.report.error = e.displayText();
        logger().error("identity sync (%s) failed, nothing departed: %s", std::string(what), run.report.error);
    } catch (const Poco::Exception& e) {
        run.report.success = false;
        run.report.error = e.displayText();
        logger().error("identity sync (%s) failed, nothing departed: %s", std::string(what), run.report.error);
    } catch (const std::exception& e) {
        run.report.success = false;
        run.report.error = e.what();
        logger().error("identity sync (%s) failed, nothing departed: %s", std::string(what), run.report.error);
    }
    run.report.seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();

    // Record the run. The cookie and high-water mark advance only after a clean run.
    auto& s = run.state;
    s.source = options_.source;
    s.lastMethod = run.report.method;
    s.lastStatus = run.report.error.empty() ? (run.report.guarded ? "guarded" : "ok") : "failed";
    s.lastError = run.report.error;
    s.alert = run.report.alert;
    s.created = static_cast<long long>(run.report.created);
    s.updated = static_cast<long long>(run.report.updated);
    s.departed = static_cast<long long>(run.report.departed);
    s.unchanged = static_cast<long long>(run.report.unchanged);
    s.read = static_cast<long long>(run.report.read);
    s.durationMs = static_cast<long long>(run.report.seconds * 1000);
    if (run.report.success) {
        s.lastSuccessAt = s.lastRunAt;
        if (!run.cookie.empty()) s.cookie = run.cookie;
        if (!run.maxTimestamp.empty() && run.maxTimestamp > s.highWater) s.highWater = run.maxTimestamp;
    }
    try {
        store_->writeSyncState(s);
    } catch (const std::exception& e) {
        logger().error("cannot record identity sync state: %s", std::string(e.what()));
    }
    return run.report;
}

namespace {

void noteTimestamp(std::string& maxTs, const ldap::Entry& e) {
    const auto& v = e.values("modifyTimestamp");
    if (!v.empty() && v.front() > maxTs) maxTs = v.front();
}

}  // namespace

void Syncer::fullRead(Run& run) {
    run.report.method = "full";
    ldap::Connection conn(options_.ldap);
    conn.connect();

    // Take the syncrepl cookie before reading: whatever changes during the read is
    // then delivered again by the next increment (harmless, it compares equal).
    if (options_.method != SyncOptions::Method::Timestamp && conn.supportsSyncRepl()) {
        struct Ignore : ldap::SyncHandler {
            void onEntry(ldap::Entry&&, const std::string&, ldap::SyncState) override {}
            void onIdSet(const std::vector<std::string>&, bool) override {}
        } ignore;
        ldap::SearchRequest probe;
        probe.base = options_.base;
        probe.scope = ldap::Scope::Base;
        probe.filter = "(objectClass=*)";
        probe.attributes = {"1.1"};
        run.cookie = conn.syncRefreshOnly(probe, "", ignore).cookie;
    }

    // Units and groups first (few), so person memberships map against current groups.
    IdentityStore::Batch batch;
    // Maps each entry, skips it when it equals what is stored, queues a change otherwise.
    auto readChanged = [&](const ldap::SearchRequest& request, auto map, auto same, auto& known) {
        conn.searchPaged(request, [&](std::vector<ldap::Entry>&& page) {
            for (auto& e : page) {
                ++run.report.read;
                noteTimestamp(run.maxTimestamp, e);
                auto item = map(e);
                run.seen.insert(item.entryUuid);
                auto it = known.find(item.entryUuid);
                if (it != known.end() && same(it->second, item)) {
                    ++run.report.unchanged;
                    continue;
                }
                bool created = it == known.end();
                ++(created ? run.report.created : run.report.updated);
                queueChange(batch, created ? ChangeKind::Created : ChangeKind::Updated, item);
                known[item.entryUuid] = item;
            }
        });
    };
    ldap::SearchRequest orgs;
    orgs.base = options_.base;
    orgs.filter = classFilter(options_.orgClass);
    orgs.attributes = {"ou", "description", "entryUUID", "modifyTimestamp"};
    readChanged(
        orgs, [&](const ldap::Entry& e) { return options_.mapping.mapOrg(e, uuidOf(e)); },
        [](const Org& a, const Org& b) { return sameOrg(a, b); }, run.orgs);
    ldap::SearchRequest groups;
    groups.base = options_.base;
    groups.filter = groupFilterOf(options_);
    groups.attributes = {"cn", "member", "uniqueMember", "memberUid", "entryUUID", "modifyTimestamp"};
    readChanged(
        groups, [&](const ldap::Entry& e) { return options_.mapping.mapGroup(e, uuidOf(e)); },
        [](const Group& a, const Group& b) { return sameGroup(a, b); }, run.groups);
    store_->write(batch, sink_);
    run.index.clear();
    for (const auto& [uuid, g] : run.groups)
        if (run.seen.count(uuid)) run.index.add(g);

    // Persons, in three stages on three threads: this one reads pages and maps each
    // entry while the server prepares the next page; a comparing thread finds what
    // differs from the stored state; a writer thread stores that, a batch per
    // transaction. The writer spends much of its time waiting for the disk, and the
    // other two have the cores meanwhile. Each commit is an fsync of the WAL (synchronous FULL stays on,
    // so every commit is durable), so a batch spans pages: up to transactionPersons,
    // or what a second brought, so a slow directory still commits regularly.
    // Departures are only written by finish(), after a complete read.
    ldap::SearchRequest persons;
    persons.base = options_.base;
    persons.filter = personFilterOf(options_);
    persons.attributes = options_.mapping.personAttributes();
    persons.attributes.push_back("entryUUID");
    persons.attributes.push_back("modifyTimestamp");

    // A batch per page; the writer stores what has queued up, up to transactionPersons,
    // in one transaction: it keeps pace with few commits, and after the last page only
    // what is left waits for it.
    const std::size_t pagesPerTransaction = std::max<std::size_t>(
        1, options_.transactionPersons / static_cast<std::size_t>(std::max(1, options_.ldap.pageSize)));
    const std::size_t depth = std::max(options_.queueDepth, pagesPerTransaction);
    StageQueue mapped(depth), changed(depth);
    SpentBatches spent;
    std::exception_ptr comparerError, writerError;
    SyncReport counts;  // the comparing thread's: created, updated, unchanged
    auto stopAll = [&] {
        mapped.abort();
        changed.abort();
    };
    std::thread comparer([&] {
        try {
            while (auto b = mapped.pop()) {
                b->changed.persons.reserve(b->mapped.size());
                b->changed.personHashes.reserve(b->mapped.size());
                for (auto& p : b->mapped)
                    diffPerson(std::move(p), run.persons, counts, b->changed, static_cast<bool>(sink_));
                // Here rather than on the writer, the slowest stage.
                IdentityStore::prepare(b->changed);
                if (!changed.push(std::move(*b))) break;
            }
            changed.close();
        } catch (...) {
            comparerError = std::current_exception();
            stopAll();
        }
    });
    std::thread writer([&] {
        try {
            for (;;) {
                std::vector<PersonBatch> batches = changed.popUpTo(pagesPerTransaction);
                if (batches.empty()) break;
                std::vector<IdentityStore::Batch*> parts;
                for (auto& b : batches) parts.push_back(&b.changed);
                store_->write(parts, sink_);
                for (auto& b : batches) spent.giveBack(std::move(b));
            }
        } catch (...) {
            writerError = std::current_exception();
            stopAll();
        }
    });
    PersonBatch pending;
    auto handOver = [&] {
        if (pending.mapped.empty()) return;
        if (!mapped.push(std::move(pending)))
            throw Poco::RuntimeException("identity sync: comparing or storing stopped");
        pending = {};
        spent.free();
    };
    std::exception_ptr readerError;
    try {
        std::size_t personsRead = 0;
        conn.searchPaged(persons, [&](std::vector<ldap::Entry>&& page) {
            pending.mapped.reserve(page.size());
            for (auto& e : page) {
                ++run.report.read;
                noteTimestamp(run.maxTimestamp, e);
                std::string uuid = uuidOf(e);
                Person p = options_.mapping.mapPerson(std::move(e), uuid, run.index);
                if (p.id.empty()) {
                    ++run.report.skipped;
                    // Seen all the same: an entry without id is not a departure.
                    run.seen.insert(uuid);
                    continue;
                }
                pending.mapped.push_back(std::move(p));
            }
            handOver();
            personsRead += page.size();
            if (options_.onProgress) options_.onProgress(personsRead);
        });
    } catch (...) {
        readerError = std::current_exception();
    }
    // What was read before a failure is stored all the same: it is true.
    try {
        handOver();
    } catch (...) {
        if (!readerError) readerError = std::current_exception();
    }
    mapped.close();
    comparer.join();
    writer.join();
    run.report.created += counts.created;
    run.report.updated += counts.updated;
    run.report.unchanged += counts.unchanged;
    if (writerError) std::rethrow_exception(writerError);
    if (comparerError) std::rethrow_exception(comparerError);
    if (readerError) std::rethrow_exception(readerError);
    run.presenceComplete = true;
}

namespace {

// Applies changed entries of any kind (incremental runs): units and groups first,
// then persons against the updated group index.
void applyChanged(std::vector<std::pair<ldap::Entry, std::string>>& changed, const SyncOptions& options,
                  IdentityStore& store, const ChangeSink& sink, SyncReport& report,
                  std::unordered_map<std::string, IdentityStore::PersonState>& persons,
                  std::unordered_map<std::string, Org>& orgs, std::unordered_map<std::string, Group>& groups,
                  GroupIndex& index, std::set<std::string>& affected, std::string& maxTs,
                  std::unordered_set<std::string>& seen) {
    IdentityStore::Batch batch;
    bool groupsChanged = false;
    for (auto& [e, uuid] : changed) {
        ++report.read;
        noteTimestamp(maxTs, e);
        seen.insert(uuid);
        Kind k = classify(e, options);
        if (k == Kind::Org) {
            Org o = options.mapping.mapOrg(e, uuid);
            auto it = orgs.find(uuid);
            if (it != orgs.end() && sameOrg(it->second, o)) {
                ++report.unchanged;
                continue;
            }
            bool created = it == orgs.end();
            ++(created ? report.created : report.updated);
            queueChange(batch, created ? ChangeKind::Created : ChangeKind::Updated, o);
            orgs[uuid] = o;
        } else if (k == Kind::Group) {
            Group g = options.mapping.mapGroup(e, uuid);
            auto it = groups.find(uuid);
            if (it != groups.end() && sameGroup(it->second, g)) {
                ++report.unchanged;
                continue;
            }
            if (it != groups.end())
                for (const auto& m : it->second.members) affected.insert(m);
            for (const auto& m : g.members) affected.insert(m);
            groupsChanged = true;
            bool created = it == groups.end();
            ++(created ? report.created : report.updated);
            queueChange(batch, created ? ChangeKind::Created : ChangeKind::Updated, g);
            groups[uuid] = g;
        }
    }
    if (groupsChanged) {
        index.clear();
        for (const auto& [uuid, g] : groups) index.add(g);
    }
    for (auto& [e, uuid] : changed) {
        if (classify(e, options) != Kind::Person) continue;
        Person p = options.mapping.mapPerson(e, uuid, index);
        if (p.id.empty()) {
            ++report.skipped;
            continue;
        }
        diffPerson(std::move(p), persons, report, batch, static_cast<bool>(sink));
        if (batch.persons.size() >= 1000) {
            store.write(batch, sink);
            batch = {};
        }
    }
    store.write(batch, sink);
}

}  // namespace

void Syncer::syncReplRead(Run& run, const std::string& cookie) {
    run.report.method = "syncrepl";
    run.incremental = true;
    ldap::Connection conn(options_.ldap);
    conn.connect();
    ldap::SearchRequest r;
    r.base = options_.base;
    r.filter = allFilterOf(options_);
    r.attributes = allAttributes(options_);
    SyncReplCollector collector;
    ldap::SyncOutcome outcome = conn.syncRefreshOnly(r, cookie, collector);
    run.cookie = outcome.cookie;
    applyChanged(collector.changed, options_, *store_, sink_, run.report, run.persons, run.orgs, run.groups,
                 run.index, run.affectedMembers, run.maxTimestamp, run.seen);
    run.deleted = std::move(collector.deleted);
    if (!outcome.refreshDeletes) {
        // Present phase: everything not named (present or changed) is gone.
        for (const auto& u : collector.present) run.seen.insert(u);
        run.presenceComplete = true;
    }
}

void Syncer::timestampRead(Run& run, const std::string& highWater) {
    run.report.method = "timestamp";
    run.incremental = true;
    ldap::Connection conn(options_.ldap);
    conn.connect();
    ldap::SearchRequest r;
    r.base = options_.base;
    r.filter = "(&" + allFilterOf(options_) + "(modifyTimestamp>=" + ldap::escapeFilterValue(highWater) + "))";
    r.attributes = allAttributes(options_);
    std::vector<std::pair<ldap::Entry, std::string>> changed;
    conn.searchPaged(r, [&](std::vector<ldap::Entry>&& page) {
        for (auto& e : page) {
            std::string uuid = uuidOf(e);
            changed.emplace_back(std::move(e), std::move(uuid));
        }
    });
    applyChanged(changed, options_, *store_, sink_, run.report, run.persons, run.orgs, run.groups, run.index,
                 run.affectedMembers, run.maxTimestamp, run.seen);

    // Deletions leave no timestamp: list every entryUUID (small entries, paged) and
    // treat what is missing as gone - only if the listing completes.
    ldap::SearchRequest all;
    all.base = options_.base;
    all.filter = allFilterOf(options_);
    all.attributes = {"entryUUID"};
    std::unordered_set<std::string> present;
    present.reserve(run.persons.size() + run.orgs.size() + run.groups.size() + 16);
    conn.searchPaged(all, [&](std::vector<ldap::Entry>&& page) {
        for (auto& e : page) present.insert(uuidOf(e));
    });
    for (const auto& u : present) run.seen.insert(u);
    run.presenceComplete = true;
}

void Syncer::finish(Run& run) {
    // Who is gone: with a complete listing, every active identity not seen; otherwise
    // only the explicit deletions.
    auto gone = [&](const std::string& uuid) {
        if (run.deleted.count(uuid)) return true;
        return run.presenceComplete && !run.seen.count(uuid);
    };
    std::vector<std::string> gonePersons;
    for (const auto& [uuid, st] : run.persons)
        if (st.status == PersonStatus::Active && !(st.seen && !run.deleted.count(uuid)) && gone(uuid))
            gonePersons.push_back(uuid);
    std::vector<Org*> goneOrgs;
    std::size_t activeOrgs = 0, activeGroups = 0;
    for (auto& [uuid, o] : run.orgs)
        if (o.status == PersonStatus::Active) {
            ++activeOrgs;
            if (gone(uuid)) goneOrgs.push_back(&o);
        }
    std::vector<Group*> goneGroups;
    for (auto& [uuid, g] : run.groups)
        if (g.status == PersonStatus::Active) {
            ++activeGroups;
            if (gone(uuid)) goneGroups.push_back(&g);
        }
    run.report.wouldDepart = gonePersons.size() + goneOrgs.size() + goneGroups.size();

    auto exceeds = [&](std::size_t goneCount, std::size_t active) {
        return goneCount > 0 && static_cast<double>(goneCount) > options_.maxDepartureShare * static_cast<double>(active);
    };
    // The guard holds back persons and units only. A group that is gone takes away
    // what it conferred (roles, audiences): never hold back the removal of a
    // privilege. (It is gone for sure: explicitly deleted, or missing from a
    // complete read.)
    bool guarded = !run.allowMassDeparture &&
                   (exceeds(gonePersons.size(), run.activePersonsBefore) || exceeds(goneOrgs.size(), activeOrgs));
    if (guarded) {
        run.report.guarded = true;
        run.report.alert = "delete guard: run would depart " + std::to_string(gonePersons.size()) + " of " +
                           std::to_string(run.activePersonsBefore) + " persons, " + std::to_string(goneOrgs.size()) +
                           " of " + std::to_string(activeOrgs) + " units (limit " +
                           std::to_string(static_cast<int>(options_.maxDepartureShare * 100)) +
                           "%); none of them departed (removed groups and memberships are applied), "
                           "run a full sync with allowMassDeparture to apply";
        logger().critical("identity sync: %s", run.report.alert);
    }

    IdentityStore::Batch batch;
    bool groupsChanged = false;
    for (Group* g : goneGroups) {
        g->status = PersonStatus::Departed;
        for (const auto& m : g->members) run.affectedMembers.insert(m);
        groupsChanged = true;
        queueChange(batch, ChangeKind::Departed, *g);
        ++run.report.departed;
    }
    if (!guarded) {
        for (Org* o : goneOrgs) {
            o->status = PersonStatus::Departed;
            queueChange(batch, ChangeKind::Departed, *o);
            ++run.report.departed;
        }
        for (std::size_t i = 0; i < gonePersons.size(); i += 1000) {
            std::vector<std::string> chunk(
                gonePersons.begin() + static_cast<std::ptrdiff_t>(i),
                gonePersons.begin() + static_cast<std::ptrdiff_t>(std::min(i + 1000, gonePersons.size())));
            for (Person& p : store_->personsByUuids(chunk)) {
                p.status = PersonStatus::Departed;
                FieldHashes h = IdentityStore::hashPerson(p);
                run.persons[p.entryUuid] = IdentityStore::PersonState{h, p.status};
                IdentityChange c;
                c.kind = ChangeKind::Departed;
                c.subject = "person";
                c.id = p.id;
                c.entryUuid = p.entryUuid;
                c.changedFields = {"status"};
                c.person = p;
                batch.changes.push_back(std::move(c));
                batch.changePerson.push_back(-1);
                batch.personHashes.push_back(h);
                batch.persons.push_back(std::move(p));
                ++run.report.departed;
            }
            store_->write(batch, sink_);
            batch = {};
        }
    }
    store_->write(batch, sink_);

    // Group changes in an increment move memberships of persons that did not change
    // themselves: re-map those from their stored attributes.
    if (run.incremental && (!run.affectedMembers.empty() || groupsChanged)) {
        run.index.clear();
        for (const auto& [uuid, g] : run.groups) run.index.add(g);
        std::vector<std::string> dns, ids;
        for (const auto& m : run.affectedMembers) {
            if (m.rfind("uid:", 0) == 0) ids.push_back(m.substr(4));
            else dns.push_back(m);
        }
        IdentityStore::Batch remap;
        for (const Person& stored : store_->personsByDnsOrIds(dns, ids)) {
            Person p = options_.mapping.remapPerson(stored, run.index);
            p.id = stored.id;
            diffPerson(std::move(p), run.persons, run.report, remap, static_cast<bool>(sink_));
            if (remap.persons.size() >= 1000) {
                store_->write(remap, sink_);
                remap = {};
            }
        }
        store_->write(remap, sink_);
    }
}

}  // namespace hub::identity
