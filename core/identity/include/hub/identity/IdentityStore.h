#pragma once

#include "hub/identity/Person.h"

#include <array>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

namespace hub::store {
class Database;
struct Migration;
}  // namespace hub::store

namespace Poco::Data {
class Session;
}

namespace hub::identity {

/// Hashes of a stored person's mapped fields, to tell what changed without reading
/// the rows back. Order: see IdentityStore::personFieldNames().
using FieldHashes = std::array<std::uint64_t, 11>;

/// The hub's identity tables (identity_persons, identity_orgs, identity_groups,
/// identity_sync_state) and every SQL statement on them. Used by the Syncer (writes)
/// and IdentityDirectory (reads); thread-safe as Database is.
class IdentityStore {
public:
    /// Applies the identity schema migrations.
    explicit IdentityStore(store::Database& db);

    static const std::vector<store::Migration>& migrations();
    static const std::array<const char*, 11>& personFieldNames();
    static FieldHashes hashPerson(const Person& p);

    struct PersonState {
        FieldHashes hashes{};
        PersonStatus status = PersonStatus::Active;
        bool seen = false;  ///< Read in the current run (set by the Syncer).
    };
    /// entryUUID -> state, for every stored person.
    std::unordered_map<std::string, PersonState> loadPersonStates();
    std::vector<Org> loadOrgs();
    std::vector<Group> loadGroups();

    /// One transaction's worth of changes. Persons are upserted by entryUUID.
    struct Batch {
        std::vector<Person> persons;
        std::vector<FieldHashes> personHashes;  ///< parallel to persons
        std::vector<Org> orgs;
        std::vector<Group> groups;
        std::vector<IdentityChange> changes;    ///< reported to the sink, in order
        /// Parallel to changes: index into persons whose Person is moved into the
        /// change after the rows are written (saves a copy per person), or -1.
        std::vector<long> changePerson;
        /// The persons' derived column texts and their write order (entryUUID), made
        /// by prepare() - on any thread - or else by the writer.
        struct Row {
            std::string dnNorm, audience, roles, groups, emails, phones;
        };
        std::vector<Row> rows;
        std::vector<std::size_t> order;
        bool empty() const { return persons.empty() && orgs.empty() && groups.empty(); }
    };
    /// A sync run's fencing token (several hubs on one database): the lease
    /// that entitles the run to write, the node holding it, and the token of
    /// the tenure the run began in. A write under a fence checks, inside its
    /// transaction, that the lease row still names this node with this token;
    /// when it does not (the node was paused past the lease's time to live and
    /// another took over) the transaction is rolled back and nothing is written.
    /// The check comes after the writes, just before the commit: on PostgreSQL
    /// it share-locks the lease row, so no takeover commits until this
    /// transaction has; on SQLite the transaction holds the file's write lock
    /// by then, which every writer waits for.
    struct LeaseFence {
        std::string lease;   ///< "identity.sync"
        std::string holder;  ///< This node's id.
        std::int64_t token = 0;
    };

    /// Writes the batch and calls `sink` for each change, all in one transaction.
    /// False (nothing written) when `fence` is given and its lease has another
    /// holder or token now.
    bool write(Batch& batch, const ChangeSink& sink, const LeaseFence* fence = nullptr);
    /// Fills batch.rows and batch.order, so the writer only binds and steps.
    static void prepare(Batch& batch);
    /// Several batches in one transaction (each batch's persons sorted on their own).
    bool write(std::span<Batch* const> batches, const ChangeSink& sink, const LeaseFence* fence = nullptr);

    std::optional<Person> personByUuid(const std::string& entryUuid);
    std::optional<Person> personById(const std::string& id);
    /// Persons by normalised DN or id (for re-mapping after group changes).
    std::vector<Person> personsByDnsOrIds(const std::vector<std::string>& normalizedDns,
                                          const std::vector<std::string>& ids);
    std::vector<Person> personsByUuids(const std::vector<std::string>& uuids);
    /// Active persons whose id, name, department or e-mail contains `query`
    /// (case-insensitive for ASCII), ordered by id, ids > `after`.
    std::vector<Person> searchPersons(const std::string& query, std::size_t limit, const std::string& after);
    std::size_t countPersons(PersonStatus status);

    /// identity_sync_state row for one directory source.
    struct SyncState {
        std::string source;
        std::string cookie;
        std::string highWater;
        std::string lastMethod;
        std::string lastRunAt;
        std::string lastSuccessAt;
        std::string lastStatus;  ///< "", "ok", "failed", "guarded"
        std::string lastError;
        std::string alert;
        long long created = 0, updated = 0, departed = 0, unchanged = 0, read = 0;
        long long durationMs = 0;
    };
    SyncState readSyncState(const std::string& source);
    /// False (nothing written) when `fence` is given and its lease has another holder or token now.
    bool writeSyncState(const SyncState& state, const LeaseFence* fence = nullptr);

    /// identity_sync_runs: a row per run, with the node that ran it (several hubs
    /// on one PostgreSQL take turns; the runs must never overlap). Times are the
    /// database's clock, ms since the epoch.
    struct SyncRunRecord {
        long long id = 0;
        std::string source, node;
        long long leaseToken = 0;  ///< The node's identity.sync lease token; 0 without a lease.
        std::string what;          ///< "full" or "incremental", as asked.
        std::string method;        ///< What ran: "full", "syncrepl", "timestamp".
        std::string status;        ///< "running", "ok", "failed", "guarded", "lease-lost".
        std::string error;
        long long startedMs = 0, finishedMs = 0;  ///< finishedMs 0 while running (or the node died).
    };
    /// Records a run's start; returns its id.
    long long beginSyncRun(const std::string& source, const std::string& node, long long leaseToken,
                           const std::string& what);
    /// Records a run's end; the table keeps the last 10,000 runs (and the requests they answered).
    void endSyncRun(long long id, const std::string& method, const std::string& status, const std::string& error);
    /// The latest `limit` runs of a source, oldest first.
    std::vector<SyncRunRecord> syncRuns(const std::string& source, std::size_t limit);

    /// identity_sync_requests: runs asked for on a node that does not hold the
    /// lease, for the holder to take (Syncer::requestRun, Syncer::runRequested).
    struct SyncRequest {
        long long id = 0;
        bool full = false, allowMassDeparture = false;
        std::string requestedBy;
    };
    long long requestSyncRun(const std::string& source, const std::string& node, bool full, bool allowMassDeparture);
    /// Takes the oldest request nobody has taken, for `node`; none: nullopt.
    std::optional<SyncRequest> takeSyncRequest(const std::string& source, const std::string& node);
    /// Names the run that answered a request.
    void settleSyncRequest(long long requestId, long long runId);
    std::size_t pendingSyncRequests(const std::string& source);

private:
    void writeWithin(Poco::Data::Session& s, Batch& batch, const ChangeSink& sink, const std::string& now);
    static bool fenceHolds(Poco::Data::Session& s, const LeaseFence& fence);
    static bool transaction(Poco::Data::Session& s, const LeaseFence* fence, const std::function<void()>& writes);
    void writePersonsSqlite(Poco::Data::Session& s, Batch& batch, const std::string& now);
    void writePersonsPostgres(Poco::Data::Session& s, Batch& batch, const std::string& now);
    store::Database& db_;
};

}  // namespace hub::identity
