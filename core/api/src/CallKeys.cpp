#include "hub/api/CallKeys.h"

#include "hub/store/Database.h"

#include <Poco/Data/Session.h>
#include <Poco/DigestEngine.h>
#include <Poco/SHA2Engine.h>
#include <Poco/UUIDGenerator.h>

#include <vector>

namespace hub::api {

namespace {

using namespace Poco::Data::Keywords;

constexpr std::int64_t kKeepAnswersMs = 24LL * 3600 * 1000;

std::int64_t callKeysNowMs() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
}

}  // namespace

CallKeys::CallKeys(store::Database& db) : db_(db) {
    // node: who claimed it (for the operator); status 0 while pending.
    db.migrate("api_call_keys", {{1,
                                  {"CREATE TABLE api_call_keys ("
                                   " call_key TEXT PRIMARY KEY,"
                                   " fingerprint TEXT NOT NULL,"
                                   " token TEXT NOT NULL,"
                                   " node TEXT NOT NULL,"
                                   " status INTEGER NOT NULL,"
                                   " body TEXT NOT NULL,"
                                   " expires_at_ms BIGINT NOT NULL)",
                                   "CREATE INDEX api_call_keys_expiry ON api_call_keys (expires_at_ms)"}}});
}

std::string CallKeys::fingerprint(const std::string& system, const std::string& operation, const std::string& body) {
    Poco::SHA2Engine sha(Poco::SHA2Engine::SHA_256);
    sha.update(system);
    sha.update('\0');
    sha.update(operation);
    sha.update('\0');
    sha.update(body);
    return Poco::DigestEngine::digestToHex(sha.digest());
}

CallKeys::Claim CallKeys::claim(const std::string& key, const std::string& fingerprint,
                                std::chrono::milliseconds pendingFor) {
    const std::int64_t nowMs = callKeysNowMs();
    if (nowMs >= nextPruneMs_.load(std::memory_order_relaxed)) pruneNow(nowMs);
    Claim claim;
    claim.token = Poco::UUIDGenerator::defaultGenerator().createRandom().toString();
    std::string k = key, f = fingerprint, node = db_.nodeId(), empty;
    Poco::Int64 expires = nowMs + pendingFor.count(), stale = nowMs;
    Poco::Data::Session session = db_.session();
    // The primary key decides: of two nodes inserting at once, one gets the row.
    session << db_.sql("INSERT INTO api_call_keys (call_key, fingerprint, token, node, status, body, expires_at_ms) "
                       "VALUES (?, ?, ?, ?, 0, ?, ?) ON CONFLICT (call_key) DO NOTHING"),
        use(k), use(f), use(claim.token), use(node), use(empty), use(expires), now;
    // A pending claim past its expiry was left by a node that died: taken over
    // (the WHERE is checked again on the row's latest version, so one wins).
    session << db_.sql("UPDATE api_call_keys SET token = ?, node = ?, expires_at_ms = ? "
                       "WHERE call_key = ? AND fingerprint = ? AND status = 0 AND expires_at_ms < ?"),
        use(claim.token), use(node), use(expires), use(k), use(f), use(stale), now;
    // Whose the row is now, read back rather than counted (as store::Lease does).
    std::vector<std::string> tokens, fingerprints, bodies;
    std::vector<int> statuses;
    session << db_.sql("SELECT token, fingerprint, status, body FROM api_call_keys WHERE call_key = ?"), use(k),
        into(tokens), into(fingerprints), into(statuses), into(bodies), now;
    if (tokens.empty()) {  // released (or pruned) in between: the client retries
        claim.state = State::InFlight;
    } else if (fingerprints.front() != fingerprint) {
        claim.state = State::Mismatch;
    } else if (statuses.front() != 0) {
        claim.state = State::Replay;
        claim.status = statuses.front();
        claim.body = bodies.front();
    } else if (tokens.front() != claim.token) {
        claim.state = State::InFlight;
    }
    return claim;
}

void CallKeys::complete(const std::string& key, const std::string& token, int status, const std::string& body) {
    std::string k = key, t = token, b = body;
    int s = status;
    Poco::Int64 expires = callKeysNowMs() + kKeepAnswersMs;
    Poco::Data::Session session = db_.session();
    // Nothing when the claim was lost (expired and taken over): the other's answer stands.
    session << db_.sql("UPDATE api_call_keys SET status = ?, body = ?, expires_at_ms = ? "
                       "WHERE call_key = ? AND token = ? AND status = 0"),
        use(s), use(b), use(expires), use(k), use(t), now;
}

void CallKeys::release(const std::string& key, const std::string& token) noexcept {
    try {
        std::string k = key, t = token;
        Poco::Data::Session session = db_.session();
        session << db_.sql("DELETE FROM api_call_keys WHERE call_key = ? AND token = ? AND status = 0"), use(k),
            use(t), now;
    } catch (...) {
        // The pending row expires by itself.
    }
}

void CallKeys::pruneNow(std::int64_t nowMs) {
    nextPruneMs_.store(nowMs + 10 * 60 * 1000, std::memory_order_relaxed);
    Poco::Int64 before = nowMs;
    Poco::Data::Session session = db_.session();
    // Answers past their day; pending claims are taken over, not pruned.
    session << db_.sql("DELETE FROM api_call_keys WHERE status <> 0 AND expires_at_ms < ?"), use(before), now;
}

}  // namespace hub::api
