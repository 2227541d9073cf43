#include "hub/store/Lease.h"

#include "hub/store/Database.h"

#include <Poco/Data/Session.h>
#include <Poco/Data/Statement.h>
#include <Poco/Environment.h>
#include <Poco/Exception.h>
#include <Poco/Logger.h>
#include <Poco/Process.h>
#include <Poco/UUIDGenerator.h>

#include <cstdio>
#include <vector>

using namespace Poco::Data::Keywords;

namespace hub::store {

namespace {

// The database's "now" in ms since the epoch: PostgreSQL's clock, one for all
// nodes; SQLite's (there is one node) from the same machine's clock.
const char* nowMs(Dialect dialect) {
    return dialect == Dialect::PostgreSql ? "(extract(epoch from clock_timestamp()) * 1000)::bigint"
                                          : "CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)";
}

}  // namespace

void Lease::migrate(Database& db) {
    db.migrate("lease", {{1,
                          {"CREATE TABLE store_leases ("
                           " name TEXT PRIMARY KEY,"
                           " holder TEXT NOT NULL,"
                           " token INTEGER NOT NULL,"
                           " expires_at_ms INTEGER NOT NULL,"
                           " acquired_at_ms INTEGER NOT NULL)"},
                          {"CREATE TABLE store_leases ("
                           " name TEXT PRIMARY KEY,"
                           " holder TEXT NOT NULL,"
                           " token BIGINT NOT NULL,"
                           " expires_at_ms BIGINT NOT NULL,"
                           " acquired_at_ms BIGINT NOT NULL)"}}});
}

Lease::Lease(Database& db, std::string name, std::string holder, std::chrono::milliseconds ttl)
    : db_(db), name_(std::move(name)), holder_(std::move(holder)), ttl_(ttl) {
    if (name_.empty() || holder_.empty()) throw Poco::InvalidArgumentException("a lease needs a name and a holder");
    if (ttl_ < std::chrono::seconds(1)) throw Poco::InvalidArgumentException("a lease's time to live is at least 1 s");
}

Lease::~Lease() { release(); }

bool Lease::tryAcquire() {
    const auto sent = std::chrono::steady_clock::now();
    const std::string clock = nowMs(db_.dialect());  // not `now`: that is Poco's keyword
    // One statement: the row is locked while the WHERE is checked against its
    // latest version, so of two nodes trying at once only one gets a row back.
    // The token grows when the holder changes.
    const std::string text =
        "INSERT INTO store_leases(name, holder, token, expires_at_ms, acquired_at_ms) VALUES(?, ?, 1, " + clock +
        " + ?, " + clock + ") ON CONFLICT(name) DO UPDATE SET"
        " token = CASE WHEN store_leases.holder = excluded.holder AND store_leases.expires_at_ms >= " + clock +
        " THEN store_leases.token ELSE store_leases.token + 1 END,"
        " acquired_at_ms = CASE WHEN store_leases.holder = excluded.holder AND store_leases.expires_at_ms >= " + clock +
        " THEN store_leases.acquired_at_ms ELSE excluded.acquired_at_ms END,"
        " holder = excluded.holder, expires_at_ms = excluded.expires_at_ms"
        " WHERE store_leases.holder = excluded.holder OR store_leases.expires_at_ms < " + clock;
    std::string name = name_, holder = holder_;
    Poco::Int64 ttl = ttl_.count();
    std::vector<Poco::Int64> tokens;
    Poco::Data::Session session = db_.session();
    // The token is read in the same transaction: the upsert's row lock (taken
    // on PostgreSQL even when its WHERE lets nothing through) keeps it ours.
    session.begin();
    session << db_.sql(text), use(name), use(holder), use(ttl), now;
    // Ours if the row names this node now (the upsert changed it, or left another's).
    std::vector<std::string> holders;
    session << db_.sql("SELECT holder, token FROM store_leases WHERE name = ?"), use(name), into(holders),
        into(tokens), now;
    session.commit();
    if (holders.size() != 1 || holders.front() != holder_) tokens.clear();
    if (tokens.empty()) {
        validUntil_.reset();
        return false;
    }
    token_ = tokens.front();
    validUntil_ = sent + ttl_;
    return true;
}

void Lease::release() noexcept {
    if (!validUntil_) return;
    validUntil_.reset();
    try {
        std::string name = name_, holder = holder_;
        Poco::Data::Session session = db_.session();
        // Expired, not deleted: the token keeps growing across holders.
        session << db_.sql("UPDATE store_leases SET expires_at_ms = 0 WHERE name = ? AND holder = ?"), use(name),
            use(holder), now;
    } catch (const std::exception& e) {
        try {
            Poco::Logger::get("hub.store").warning("lease %s: the release failed (%s); it expires on its own",
                                                   name_, std::string(e.what()));
        } catch (...) {
        }
    }
}

bool Lease::held() const {
    return validUntil_ && std::chrono::steady_clock::now() < *validUntil_;
}

std::optional<Lease::Holder> Lease::current(Database& db, const std::string& name) {
    std::string key = name;
    std::vector<std::string> nodes;
    std::vector<Poco::Int64> tokens, expires;
    Poco::Data::Session session = db.session();
    session << db.sql(std::string("SELECT holder, token, expires_at_ms FROM store_leases WHERE name = ? AND "
                                  "expires_at_ms >= ") +
                      nowMs(db.dialect())),
        use(key), into(nodes), into(tokens), into(expires), now;
    if (nodes.empty()) return std::nullopt;
    return Holder{nodes.front(), tokens.front(), expires.front()};
}

std::string Lease::defaultNodeId() {
    return Poco::Environment::nodeName() + ":" + std::to_string(Poco::Process::id()) + ":" +
           Poco::UUIDGenerator::defaultGenerator().createRandom().toString().substr(0, 8);
}

}  // namespace hub::store
