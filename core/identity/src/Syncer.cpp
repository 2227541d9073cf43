#include "hub/identity/Syncer.h"

#include "DeleteGuard.h"
#include "Diff.h"
#include "Json.h"
#include "PersonPipeline.h"
#include "SyncQueries.h"
#include "SyncRun.h"
#include "hub/common/JsonWriter.h"
#include "hub/identity/IdentityStore.h"
#include "hub/ldap/Connection.h"
#include "hub/ldap/Filter.h"
#include "hub/ldap/LdapException.h"
#include "hub/store/Database.h"
#include "hub/store/Lease.h"
#include "hub/store/LeaseKeeper.h"

#include <Poco/Logger.h>
#include <Poco/Util/AbstractConfiguration.h>

#include <chrono>
#include <ranges>
#include <thread>
#include <unordered_set>

namespace hub::identity {

namespace {

Poco::Logger& logger() { return Poco::Logger::get("hub.identity"); }

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

// Applies changed entries of any kind (incremental runs): units and groups first,
// then persons against the updated group index.
void applyChanged(std::vector<std::pair<ldap::Entry, std::string>>& changed, const SyncOptions& options,
                  IdentityStore& store, const ChangeSink& sink, SyncRun& run) {
    IdentityStore::Batch batch;
    bool groupsChanged = false;
    for (auto& [e, uuid] : changed) {
        ++run.report.read;
        noteTimestamp(run.maxTimestamp, e);
        run.seen.insert(uuid);
        EntryKind k = classify(e, options);
        if (k == EntryKind::Org) {
            diffItem(options.mapping.mapOrg(e, uuid), run.orgs, run.report, batch);
        } else if (k == EntryKind::Group) {
            Group g = options.mapping.mapGroup(e, uuid);
            auto it = run.groups.find(uuid);
            if (it != run.groups.end() && sameAs(it->second, g)) {
                ++run.report.unchanged;
                continue;
            }
            // Members on both sides of the change are re-mapped at the end.
            if (it != run.groups.end())
                for (const auto& m : it->second.members) run.affectedMembers.insert(m);
            for (const auto& m : g.members) run.affectedMembers.insert(m);
            groupsChanged = true;
            diffItem(std::move(g), run.groups, run.report, batch);
        }
    }
    if (groupsChanged) {
        run.index.clear();
        for (const auto& [uuid, g] : run.groups) run.index.add(g);
    }
    for (auto& [e, uuid] : changed) {
        if (classify(e, options) != EntryKind::Person) continue;
        Person p = options.mapping.mapPerson(e, uuid, run.index);
        if (p.id.empty()) {
            ++run.report.skipped;
            continue;
        }
        diffPerson(std::move(p), run.persons, run.report, batch, static_cast<bool>(sink));
        if (batch.persons.size() >= 1000) {
            run.write(store, batch, sink);
            batch = {};
        }
    }
    run.write(store, batch, sink);
}

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
    o.leaseSeconds = c.getInt("sync.leaseSeconds", o.leaseSeconds);
    if (o.leaseSeconds < 2 || o.leaseSeconds > 600)
        throw Poco::InvalidArgumentException("identity.sync.leaseSeconds must be 2 to 600");
    if (o.base.empty()) throw Poco::InvalidArgumentException("identity.ldap.base is required");
    return o;
}

std::string SyncStatus::toJson() const {
    std::string out = "{";
    auto str = [&](const char* k, const std::string& v) {
        if (out.size() > 1) out += ',';
        json::appendKey(out, k);
        json::appendString(out, v);
    };
    auto num = [&](const char* k, long long v) {
        out += ',';
        json::appendKey(out, k);
        json::appendNumber(out, static_cast<std::int64_t>(v));
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
    num("personsRead", static_cast<long long>(personsRead));
    num("read", read);
    num("durationMs", durationMs);
    num("activePersons", static_cast<long long>(activePersons));
    out += std::string(",\"coordinated\":") + (coordinated ? "true" : "false");
    if (coordinated) {
        str("leaseHolder", leaseHolder);
        out += std::string(",\"thisNodeHolds\":") + (thisNodeHolds ? "true" : "false");
        num("requestsPending", static_cast<long long>(requestsPending));
    }
    out += ",\"recentRuns\":[";
    for (std::size_t i = 0; i < recentRuns.size(); ++i) {
        const Run& r = recentRuns[i];
        out += i ? ",{" : "{";
        json::appendKey(out, "id");
        json::appendNumber(out, static_cast<std::int64_t>(r.id));
        for (const auto& [k, v] : {std::pair<const char*, const std::string*>{"node", &r.node}, {"what", &r.what},
                                   {"method", &r.method}, {"status", &r.status}, {"error", &r.error}}) {
            out += ',';
            json::appendKey(out, k);
            json::appendString(out, *v);
        }
        out += ',';
        json::appendKey(out, "startedMs");
        json::appendNumber(out, static_cast<std::int64_t>(r.startedMs));
        out += ',';
        json::appendKey(out, "finishedMs");
        json::appendNumber(out, static_cast<std::int64_t>(r.finishedMs));
        out += '}';
    }
    out += "]}";
    return out;
}

Syncer::Syncer(store::Database& db, SyncOptions options, ChangeSink sink)
    : db_(db),
      options_(std::move(options)),
      sink_(std::move(sink)),
      store_(std::make_unique<IdentityStore>(db)),
      nodeId_(db.nodeId()) {}

Syncer::~Syncer() = default;

namespace {
const char* const syncLeaseName = "identity.sync";
}

void Syncer::setOnLeaseAcquired(std::function<void()> acquired) {
    std::lock_guard lock(leaseHookMutex_);
    onLeaseAcquired_ = std::move(acquired);
}

void Syncer::coordinate(std::chrono::milliseconds leaseTtl) {
    store::LeaseKeeper::Callbacks callbacks;
    callbacks.acquired = [this](std::int64_t) {
        std::lock_guard lock(leaseHookMutex_);
        if (onLeaseAcquired_) onLeaseAcquired_();
    };
    lease_ = std::make_unique<store::LeaseKeeper>(db_, syncLeaseName, nodeId_, leaseTtl, std::move(callbacks));
    // The keeper's first attempt is on its own thread: wait for its answer (held
    // here, or another node named), so a run right after this is not refused
    // for want of a try.
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(3);
    while (!lease_->held() && std::chrono::steady_clock::now() < until) {
        try {
            if (auto h = store::Lease::current(db_, syncLeaseName); h && h->node != nodeId_) break;
        } catch (const std::exception&) {
            break;  // the store cannot answer: the keeper keeps trying
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
}

long long Syncer::requestRun(bool full, bool allowMassDeparture) {
    return store_->requestSyncRun(options_.source, nodeId_, full, allowMassDeparture);
}

bool Syncer::runRequested() {
    if (!lease_ || !lease_->held()) return false;
    auto request = store_->takeSyncRequest(options_.source, nodeId_);
    if (!request) return false;
    logger().information("identity sync asked for on node %s (request %Ld): running it here",
                         request->requestedBy, static_cast<Poco::Int64>(request->id));
    SyncReport report = request->full ? runFull(request->allowMassDeparture)
                                      : runIncremental(request->allowMassDeparture);
    store_->settleSyncRequest(request->id, report.runId);
    return true;
}

std::string Syncer::leaseHeldElsewhere() const {
    if (!lease_ || lease_->held()) return {};
    try {
        auto h = store::Lease::current(db_, syncLeaseName);
        return h && h->node != nodeId_ ? h->node : std::string("nobody");
    } catch (const std::exception&) {
        return "unknown (the store cannot answer)";
    }
}

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
    out.personsRead = personsRead_.load();
    if (lease_) {
        out.coordinated = true;
        out.thisNodeHolds = lease_->held();
        if (out.thisNodeHolds) out.leaseHolder = nodeId_;
        else if (auto h = store::Lease::current(db_, syncLeaseName)) out.leaseHolder = h->node;
        out.requestsPending = store_->pendingSyncRequests(options_.source);
    }
    auto runs = store_->syncRuns(options_.source, SyncStatus::recentRunsShown);  // oldest first
    // Reverse iterators, not std::ranges: clang 14 (the fuzz tree) cannot use libstdc++ 12's ranges.
    for (auto it = runs.rbegin(); it != runs.rend(); ++it) {
        auto& r = *it;
        out.recentRuns.push_back({r.id, std::move(r.node), std::move(r.what), std::move(r.method), std::move(r.status),
                                  std::move(r.error), r.startedMs, r.finishedMs});
    }
    return out;
}

void Syncer::setOptions(SyncOptions options) {
    std::lock_guard lock(pendingMutex_);
    pending_ = std::make_unique<SyncOptions>(std::move(options));
}

SyncReport Syncer::execute(const char* what, bool allowMassDeparture, bool full) {
    std::lock_guard lock(runMutex_);
    if (lease_ && !lease_->held()) {
        // Another node runs the sync (or nobody holds the lease this instant).
        SyncReport refused;
        refused.method = full ? "full" : "incremental";
        refused.heldBy = leaseHeldElsewhere();
        if (refused.heldBy.empty()) refused.heldBy = "nobody";
        refused.error = "the identity.sync lease is held by " + refused.heldBy + ", not this node (" + nodeId_ + ")";
        return refused;
    }
    if (std::unique_ptr<SyncOptions> next = [this] {
            std::lock_guard pendingLock(pendingMutex_);
            return std::move(pending_);
        }()) {
        // Member by member, all but source: status() reads it without the run lock.
        options_.ldap = std::move(next->ldap);
        options_.base = std::move(next->base);
        options_.personClass = std::move(next->personClass);
        options_.orgClass = std::move(next->orgClass);
        options_.groupClasses = std::move(next->groupClasses);
        options_.personFilter = std::move(next->personFilter);
        options_.mapping = std::move(next->mapping);
        options_.method = next->method;
        options_.maxDepartureShare = next->maxDepartureShare;
        options_.intervalSeconds = next->intervalSeconds;
        options_.queueDepth = next->queueDepth;
        options_.transactionPersons = next->transactionPersons;
        if (next->onProgress) options_.onProgress = std::move(next->onProgress);
    }
    personsRead_ = 0;  // before running: a poll that sees the run sees its own count, not the last run's
    running_ = true;
    struct Reset {
        std::atomic<bool>& flag;
        ~Reset() { flag = false; }
    } reset{running_};

    auto started = std::chrono::steady_clock::now();
    SyncRun run;
    run.lease = lease_.get();
    if (lease_) run.fence = IdentityStore::LeaseFence{syncLeaseName, nodeId_, lease_->token()};
    run.allowMassDeparture = allowMassDeparture;
    long long runId = 0;
    try {
        runId = store_->beginSyncRun(options_.source, nodeId_, run.fence ? run.fence->token : 0, what);
        run.report.runId = runId;
    } catch (const std::exception& e) {
        logger().error("cannot record the start of an identity sync run: %s", std::string(e.what()));
    }
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
        run.checkLease();
        finish(run);
        run.report.success = !run.report.guarded;
    } catch (const LeaseLost& e) {
        run.report.success = false;
        run.report.leaseLost = true;
        run.report.error = e.what();
        logger().warning("identity sync (%s) stopped: %s", std::string(what), run.report.error);
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
    // A node that has lost the lease leaves the state to the one that holds it now.
    if (lease_ && !lease_->held() && !run.report.leaseLost) {
        run.report.leaseLost = true;
        if (run.report.error.empty()) run.report.error = LeaseLost().what();
        run.report.success = false;
    }
    try {
        // Fenced too: the cookie and high-water mark are the new holder's now.
        if (!run.report.leaseLost && !store_->writeSyncState(s, run.fence ? &*run.fence : nullptr)) {
            run.report.leaseLost = true;
            run.report.success = false;
            if (run.report.error.empty()) run.report.error = LeaseLost().what();
            logger().warning("identity sync (%s) not recorded as done: %s", std::string(what), run.report.error);
        }
        if (runId != 0)
            store_->endSyncRun(runId, run.report.method, run.report.leaseLost ? "lease-lost" : s.lastStatus,
                               run.report.error);
    } catch (const std::exception& e) {
        logger().error("cannot record identity sync state: %s", std::string(e.what()));
    }
    return run.report;
}

void Syncer::fullRead(SyncRun& run) {
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

    // Units and groups first (few, one transaction), so person memberships map
    // against current groups.
    IdentityStore::Batch batch;
    conn.searchPaged(orgsRequest(options_), [&](std::vector<ldap::Entry>&& page) {
        run.checkLease();
        for (auto& e : page) {
            ++run.report.read;
            noteTimestamp(run.maxTimestamp, e);
            Org o = options_.mapping.mapOrg(e, uuidOf(e));
            run.seen.insert(o.entryUuid);
            diffItem(std::move(o), run.orgs, run.report, batch);
        }
    });
    conn.searchPaged(groupsRequest(options_), [&](std::vector<ldap::Entry>&& page) {
        run.checkLease();
        for (auto& e : page) {
            ++run.report.read;
            noteTimestamp(run.maxTimestamp, e);
            Group g = options_.mapping.mapGroup(e, uuidOf(e));
            run.seen.insert(g.entryUuid);
            diffItem(std::move(g), run.groups, run.report, batch);
        }
    });
    run.write(*store_, batch, sink_);
    run.index.clear();
    for (const auto& [uuid, g] : run.groups)
        if (run.seen.count(uuid)) run.index.add(g);

    // Each page's count also goes to status() while the persons are read, for
    // `hubctl sync run --full`'s progress; the caller's own callback still runs.
    personsRead_ = 0;
    auto callersProgress = options_.onProgress;
    options_.onProgress = [this, callersProgress](std::size_t read) {
        personsRead_ = read;
        if (callersProgress) callersProgress(read);
    };
    struct Restore {
        SyncOptions& options;
        std::function<void(std::size_t)> progress;
        ~Restore() { options.onProgress = std::move(progress); }
    } restore{options_, callersProgress};
    syncPersons(conn, personsRequest(options_), options_, *store_, sink_, run);
    run.presenceComplete = true;
}

void Syncer::syncReplRead(SyncRun& run, const std::string& cookie) {
    run.report.method = "syncrepl";
    run.incremental = true;
    ldap::Connection conn(options_.ldap);
    conn.connect();
    SyncReplCollector collector;
    ldap::SyncOutcome outcome = conn.syncRefreshOnly(everythingRequest(options_), cookie, collector);
    run.cookie = outcome.cookie;
    applyChanged(collector.changed, options_, *store_, sink_, run);
    run.deleted = std::move(collector.deleted);
    if (!outcome.refreshDeletes) {
        // Present phase: everything not named (present or changed) is gone.
        for (const auto& u : collector.present) run.seen.insert(u);
        run.presenceComplete = true;
    }
}

void Syncer::timestampRead(SyncRun& run, const std::string& highWater) {
    run.report.method = "timestamp";
    run.incremental = true;
    ldap::Connection conn(options_.ldap);
    conn.connect();
    ldap::SearchRequest r = everythingRequest(options_);
    r.filter = "(&" + r.filter + "(modifyTimestamp>=" + ldap::escapeFilterValue(highWater) + "))";
    std::vector<std::pair<ldap::Entry, std::string>> changed;
    conn.searchPaged(r, [&](std::vector<ldap::Entry>&& page) {
        run.checkLease();
        for (auto& e : page) {
            std::string uuid = uuidOf(e);
            changed.emplace_back(std::move(e), std::move(uuid));
        }
    });
    applyChanged(changed, options_, *store_, sink_, run);

    // Deletions leave no timestamp: list every entryUUID (small entries, paged) and
    // treat what is missing as gone - only if the listing completes.
    std::unordered_set<std::string> present;
    present.reserve(run.persons.size() + run.orgs.size() + run.groups.size() + 16);
    conn.searchPaged(presenceRequest(options_), [&](std::vector<ldap::Entry>&& page) {
        run.checkLease();
        for (auto& e : page) present.insert(uuidOf(e));
    });
    for (const auto& u : present) run.seen.insert(u);
    run.presenceComplete = true;
}

void Syncer::finish(SyncRun& run) {
    Departures gone = decideDepartures(run, options_.maxDepartureShare);
    run.report.wouldDepart = gone.size();
    if (gone.held) {
        run.report.guarded = true;
        run.report.alert = gone.alert;
        logger().critical("identity sync: %s", run.report.alert);
    }
    depart(run, gone);
    remapAffectedMembers(run);
}

void Syncer::depart(SyncRun& run, const Departures& gone) {
    IdentityStore::Batch batch;
    for (Group* g : gone.groups) {
        g->status = PersonStatus::Departed;
        for (const auto& m : g->members) run.affectedMembers.insert(m);
        queueChange(batch, ChangeKind::Departed, *g);
        ++run.report.departed;
    }
    if (!gone.held) {
        for (Org* o : gone.orgs) {
            o->status = PersonStatus::Departed;
            queueChange(batch, ChangeKind::Departed, *o);
            ++run.report.departed;
        }
        for (std::size_t i = 0; i < gone.persons.size(); i += 1000) {
            std::vector<std::string> chunk(
                gone.persons.begin() + static_cast<std::ptrdiff_t>(i),
                gone.persons.begin() + static_cast<std::ptrdiff_t>(std::min(i + 1000, gone.persons.size())));
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
            run.write(*store_, batch, sink_);
            batch = {};
        }
    }
    run.write(*store_, batch, sink_);
}

void Syncer::remapAffectedMembers(SyncRun& run) {
    // Group changes in an increment move memberships of persons that did not change
    // themselves: re-map those from their stored attributes.
    if (!run.incremental || run.affectedMembers.empty()) return;
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
            run.write(*store_, remap, sink_);
            remap = {};
        }
    }
    run.write(*store_, remap, sink_);
}

}  // namespace hub::identity
