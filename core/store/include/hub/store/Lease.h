#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

namespace hub::store {

class Database;

/// A named lease in the store (table store_leases): at most one node holds it
/// at a time, for a time to live it renews; when the holder stops renewing (it
/// died, hangs, or lost the database) another node takes it over once the
/// lease has expired. The coordination for work that exactly one of several
/// hubs on one PostgreSQL may do (the LDAP sync, the flow timers,
/// provisioning, a plugin's schedule; docs/store.md "Leases"). On SQLite there
/// is one node, and it takes the lease at once.
///
/// Acquire and renew are one statement (an upsert whose WHERE lets it through
/// only for the holder or once the lease has expired), so two nodes trying at
/// once never both succeed. Expiry is the database's clock on PostgreSQL (nodes'
/// clocks may disagree); the holder counts its own lease valid only until the
/// time to live has passed since it *sent* the renewal (its steady clock), so
/// it stops before the database lets anyone else in. Each change of holder
/// increments token(): a fencing token for writes that must not come from a
/// holder that has since lost the lease.
///
/// Not thread-safe: one Lease object per node and name, used by one thread
/// (the module's scheduler), which calls tryAcquire() every ttl/3 or so and
/// checks held() before each piece of work.
class Lease {
public:
    /// Creates the table (schema module "lease"); idempotent.
    static void migrate(Database& db);

    /// `holder` names this node (unique among the nodes: host name and pid, or
    /// a configured node id); `ttl` at least a second.
    Lease(Database& db, std::string name, std::string holder, std::chrono::milliseconds ttl);
    ~Lease();

    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;

    /// Takes the lease if it is free or expired, or renews it if this node
    /// holds it. True when this node holds it now; false when another does.
    /// Throws StoreUnavailable when the store cannot answer (then held() turns
    /// false once the last renewal's time is up).
    bool tryAcquire();

    /// Gives the lease up now (another node may take it at once). No-op when
    /// not held; never throws (a release that fails lets the lease expire).
    void release() noexcept;

    /// True until the time to live has passed since the last successful
    /// tryAcquire() was sent. No I/O.
    bool held() const;

    /// Until when held() is true (steady clock); empty when not held.
    std::optional<std::chrono::steady_clock::time_point> validUntil() const { return validUntil_; }

    /// The fencing token of this node's tenure: grows with every change of
    /// holder. 0 before the first successful tryAcquire().
    std::int64_t token() const { return token_; }

    const std::string& name() const { return name_; }
    const std::string& holder() const { return holder_; }

    /// Who holds the lease named `name` according to the database, if anyone
    /// (an expired lease counts as nobody's): for /admin and the tests.
    struct Holder {
        std::string node;
        std::int64_t token = 0;
        std::int64_t expiresAtMs = 0;  ///< The database's clock, ms since the epoch.
    };
    static std::optional<Holder> current(Database& db, const std::string& name);

    /// A default node id: host name, pid and a random suffix.
    static std::string defaultNodeId();

private:
    Database& db_;
    std::string name_;
    std::string holder_;
    std::chrono::milliseconds ttl_;
    std::int64_t token_ = 0;
    std::optional<std::chrono::steady_clock::time_point> validUntil_;
};

}  // namespace hub::store
