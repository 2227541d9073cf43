#include "hub/events/Relay.h"

#include "hub/events/Outbox.h"

#include <hub/zmq/Curve.h>
#include <hub/zmq/Frames.h>
#include <hub/zmq/ZapAuthenticator.h>

#include <Poco/Data/DataException.h>
#include <Poco/Data/SQLite/SQLiteException.h>
#include <Poco/Data/SQLite/Utility.h>
#include <Poco/Data/Statement.h>
#include <Poco/Logger.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <queue>
#include <set>
#include <sqlite3.h>
#include <thread>
#include <unordered_map>

using namespace Poco::Data::Keywords;
using Poco::Int64;

namespace hub::events {

namespace {

Poco::Logger& logger() { return Poco::Logger::get("hub.events"); }

std::int64_t nowMs() { return Outbox::nowMs(); }

// After SQLITE_FULL, an I/O error or SQLITE_NOMEM, SQLite may have rolled the
// transaction back itself, and Poco's ROLLBACK then fails ("cannot rollback - no
// transaction is active"). That failure says nothing new: swallow it, so the
// caller still answers the sender.
void rollbackQuietly(Poco::Data::Session& s) {
    try {
        if (s.isTransaction()) s.rollback();
    } catch (const Poco::Exception&) {
    }
}

// The store could not take the event now, but may later: the disk is full, the
// database is locked or unreachable. The sender should retry; anything else is
// the event's (or the handler's) answer and would fail the same way again.
bool isTransient(const Poco::Exception& e) {
    using namespace Poco::Data;
    using namespace Poco::Data::SQLite;
    return dynamic_cast<const DatabaseFullException*>(&e) || dynamic_cast<const IOErrorException*>(&e) ||
           dynamic_cast<const DBLockedException*>(&e) || dynamic_cast<const TableLockedException*>(&e) ||
           dynamic_cast<const NoMemoryException*>(&e) || dynamic_cast<const ReadOnlyException*>(&e) ||
           dynamic_cast<const CantOpenDBFileException*>(&e) || dynamic_cast<const InterruptException*>(&e) ||
           dynamic_cast<const SessionUnavailableException*>(&e) ||
           dynamic_cast<const SessionPoolExhaustedException*>(&e) ||
           dynamic_cast<const ConnectionFailedException*>(&e) || dynamic_cast<const NotConnectedException*>(&e);
}

// The committer's busy handler. SQLite's default one (sqlite3_busy_timeout)
// backs off to 100 ms between tries, so a writer that commits back to back (the
// hub under load) can starve it for seconds; meanwhile acknowledged events keep
// their window slots and delivery stops once the window is full. Trying every
// 0.2 ms catches the short gaps between the other writer's transactions.
// Gives up after about 10 s, like the store's busy timeout.
extern "C" int retrySoon(void*, int count) {
    if (count >= 50000) return 0;
    std::this_thread::sleep_for(std::chrono::microseconds(200));
    return 1;
}

// One outbox event as seen by one consumer.
struct Item {
    enum class State { Waiting, InFlight, Acked, Dead };
    std::int64_t seq = 0;
    std::string id;
    std::string type;
    std::string subject;
    std::string payload;
    std::int64_t createdAt = 0;
    State state = State::Waiting;
    int attempts = 0;
    std::int64_t dueAt = 0;     // earliest next send (backoff)
    bool flushed = false;       // settled state is committed (or needs no commit)
    bool holdsSlot = false;     // counts against the window
    bool hasRow = false;        // an events_delivery row exists, or will once the queued marks commit
    bool replay = false;        // replayed dead letter: not bound by subject order
    std::string lastError;

    bool settled() const { return state == State::Acked || state == State::Dead; }
};

using Timer = std::pair<std::int64_t, std::int64_t>;                // time, seq
using AckTimer = std::tuple<std::int64_t, std::int64_t, int>;       // deadline, seq, attempt

struct Consumer {
    ConsumerConfig cfg;
    std::unique_ptr<::zmq::socket_t> socket;

    std::map<std::int64_t, Item> items;                         // loaded, by seq
    std::unordered_map<std::string, std::deque<std::int64_t>> subjects;  // unsettled, in order
    std::unordered_map<std::string, std::int64_t> byId;         // unsettled, for acks
    std::set<std::int64_t> ready;                               // may be sent now
    std::priority_queue<Timer, std::vector<Timer>, std::greater<>> dueTimers;
    std::priority_queue<AckTimer, std::vector<AckTimer>, std::greater<>> ackTimers;
    std::set<std::int64_t> dirty;                               // state to commit

    std::int64_t loadedUpTo = 0;        // highest outbox seq loaded
    std::int64_t persistedCursor = 0;   // events_cursor.seq, as last reported by the committer
    std::int64_t queuedCursor = 0;      // the cursor last handed to the committer
    std::atomic<std::int64_t> durableCursor{0};  // persistedCursor, for the committer's pruning
    bool sendBlocked = false;           // the last send failed (not connected, high-water mark)
    std::size_t slotsUsed = 0;
    std::int64_t unsettled = 0;
    bool lastLoadFull = false;

    // Found in the database at start, for events beyond the cursor.
    std::set<std::int64_t> knownSettled;
    std::map<std::int64_t, std::pair<int, std::int64_t>> knownAttempts;

    std::uint64_t deliveries = 0;
    std::uint64_t retries = 0;
    std::uint64_t deadLettered = 0;

    std::size_t maxItems() const { return std::max<std::size_t>(cfg.window * 4, 2000); }

    bool isFront(const Item& it) const {
        if (it.replay || it.subject.empty()) return true;
        auto s = subjects.find(it.subject);
        return s != subjects.end() && !s->second.empty() && s->second.front() == it.seq;
    }

    std::int64_t backoff(int attempts) const {
        std::int64_t delay = cfg.backoffInitialMs;
        for (int i = 1; i < attempts && delay < cfg.backoffMaxMs; ++i) delay *= 2;
        return std::min<std::int64_t>(delay, cfg.backoffMaxMs);
    }

    void makeEligible(Item& it, std::int64_t at) {
        if (it.state != Item::State::Waiting || !isFront(it)) return;
        if (it.dueAt <= at) ready.insert(it.seq);
        else dueTimers.emplace(it.dueAt, it.seq);
    }

    void takeSlot(Item& it) {
        if (!it.holdsSlot) {
            it.holdsSlot = true;
            ++slotsUsed;
        }
    }

    void releaseSlot(Item& it) {
        if (it.holdsSlot) {
            it.holdsSlot = false;
            --slotsUsed;
        }
    }

    // Acked or dead: unblocks the next event of the subject.
    void settle(Item& it, std::int64_t at) {
        byId.erase(it.id);
        ready.erase(it.seq);
        dirty.insert(it.seq);
        --unsettled;
        if (it.replay || it.subject.empty()) return;
        auto s = subjects.find(it.subject);
        if (s == subjects.end()) return;
        auto& queue = s->second;
        queue.erase(std::remove(queue.begin(), queue.end(), it.seq), queue.end());
        if (queue.empty()) {
            subjects.erase(s);
            return;
        }
        auto next = items.find(queue.front());
        if (next != items.end()) makeEligible(next->second, at);
    }

    void fail(Item& it, const std::string& reason, std::int64_t at) {
        releaseSlot(it);
        it.lastError = reason;
        if (it.attempts >= cfg.maxAttempts) {
            it.state = Item::State::Dead;
            takeSlot(it);  // until the dead letter is committed
            ++deadLettered;
            logger().warning("event %s (seq %?d) to consumer %s dead-lettered after %d attempts: %s",
                             it.id, it.seq, cfg.name, it.attempts, reason);
            settle(it, at);
            return;
        }
        it.state = Item::State::Waiting;
        it.dueAt = at + backoff(it.attempts);
        ++retries;
        dirty.insert(it.seq);
        makeEligible(it, at);
    }

    // The cursor after the dirty items are committed: every non-replay item
    // before the first unsettled one is settled.
    std::int64_t nextCursor() const {
        for (const auto& [seq, it] : items) {
            if (it.replay) continue;
            if (!it.settled()) return seq - 1;
        }
        return loadedUpTo;
    }

    void eraseSettledFront() {
        for (auto i = items.begin(); i != items.end();) {
            const Item& it = i->second;
            if (it.settled() && it.flushed) {
                i = items.erase(i);
            } else if (it.replay) {
                ++i;
            } else {
                break;
            }
        }
    }
};

// One durable change to a consumer's delivery state, handed from the delivery
// thread to the committer. Only the latest mark of an event matters: a later one
// replaces an earlier one that has not been committed yet.
struct Mark {
    enum class Kind { Delivered, Retry, Dead };
    Kind kind = Kind::Retry;
    // Delivered: write a delivery row (the event lies beyond the cursor, or a
    // retry row exists). Dead: delete the event's retry row.
    bool row = false;
    int attempts = 0;
    std::int64_t nextAttemptAt = 0;
    std::string id, type, subject, lastError;  // Dead only
};

// Marks of one consumer not yet committed, and the cursor to store with them.
struct PendingMarks {
    std::map<std::int64_t, Mark> marks;
    std::optional<std::int64_t> cursor;

    bool empty() const { return marks.empty() && !cursor; }

    // Newer marks (and cursor) win: the delivery thread hands them over in order.
    void absorb(PendingMarks& newer) {
        for (auto& [seq, mark] : newer.marks) marks[seq] = std::move(mark);
        if (newer.cursor) cursor = newer.cursor;
        newer.marks.clear();
        newer.cursor.reset();
    }
};

// What one commit made durable for one consumer, reported back to the delivery
// thread so it can release window slots and move the cursor.
struct Completion {
    std::size_t consumer = 0;
    std::vector<std::int64_t> settled;  // Delivered and Dead marks
    std::optional<std::int64_t> cursor;
};

}  // namespace

struct Relay::Impl {
    hub::store::Database& db;
    RelayConfig cfg;
    InboundHandler onInbound;

    // Declared first, destroyed last: every socket below must close before it.
    ::zmq::context_t ctx;
    std::unique_ptr<hub::zmq::ZapAuthenticator> zap;
    hub::zmq::CurveKeyPair hubKeys;
    std::vector<std::unique_ptr<Consumer>> consumers;
    std::unique_ptr<::zmq::socket_t> pub;
    std::unique_ptr<::zmq::socket_t> inbound;
    std::string inboundEp;
    std::string publishEp;
    std::atomic<std::int64_t> publishedUpTo{0};

    // The delivery thread never writes to the database: it hands marks to the
    // committer thread (commitMutex, pending), which commits them in batches on
    // its own session and reports back (doneMutex, completions), waking the
    // delivery thread through an inproc socket pair.
    std::mutex commitMutex;
    std::condition_variable commitCv;
    std::vector<PendingMarks> pending;  // one per consumer
    bool commitStop = false;
    std::mutex doneMutex;
    std::vector<Completion> completions;
    std::unique_ptr<::zmq::socket_t> wakeSend;  // committer thread only
    std::unique_ptr<::zmq::socket_t> wakeRecv;  // delivery thread only
    bool replayDeferred = false;                // delivery thread only
    std::int64_t replayAt = 0;                  // when to look at deferred replays again

    std::thread outThread;
    std::thread inThread;
    std::thread commitThread;
    std::atomic<bool> stopping{false};
    std::atomic<bool> isRunning{false};
    std::atomic<bool> replayRequested{false};
    std::mutex lifecycle;

    mutable std::mutex metricsMutex;
    RelayMetrics snapshot;
    std::atomic<std::uint64_t> published{0};
    std::atomic<std::uint64_t> inboundAccepted{0};
    std::atomic<std::uint64_t> inboundDuplicates{0};
    std::atomic<std::uint64_t> inboundRefused{0};
    std::atomic<std::uint64_t> inboundUnavailable{0};
    std::atomic<std::int64_t> deadLetterCount{0};

    Impl(hub::store::Database& database, RelayConfig config, InboundHandler handler)
        : db(database), cfg(std::move(config)), onInbound(std::move(handler)) {}

    void openSockets();
    void runOutbound();
    void runInbound();
    void runCommitter();
    bool commitRound(Poco::Data::Session& s, std::vector<PendingMarks>& work, int& failures,
                     std::int64_t& lastPrune);

    void loadState(Poco::Data::Session& s, Consumer& c);
    void loadOutbox(Poco::Data::Session& s, Consumer& c, std::int64_t at);
    bool loadReplayItem(Poco::Data::Session& s, Consumer& c, std::int64_t seq, int attempts);
    void loadReplays(Poco::Data::Session& s, Consumer& c, std::int64_t at);
    void processTimers(Consumer& c, std::int64_t at);
    void sendReady(Consumer& c, std::int64_t at);
    void receiveAcks(Consumer& c, std::int64_t at);
    void handOff();
    void applyCompletions();
    bool commitMarks(Poco::Data::Session& s, std::vector<PendingMarks>& work);
    long pollTimeout(std::int64_t at) const;
    void publish(Poco::Data::Session& s);
    void updateMetrics(Poco::Data::Session& s, std::int64_t at);
    void prune(Poco::Data::Session& s, std::int64_t at);
    void handleInbound(Poco::Data::Session& s, const hub::zmq::Frames& frames, const std::string& userId);
    void pauseAfterFailure(int failures);

    // Each loop catches its own errors; this is the last line, for what escapes
    // one (the thread's set-up, say): log, pause, run the body again. A relay
    // thread never takes the process down with std::terminate.
    std::thread startThread(const char* name, void (Impl::*body)()) {
        return std::thread([this, name, body] {
            for (int failures = 1;; ++failures) {
                try {
                    (this->*body)();
                    return;
                } catch (const std::exception& e) {
                    logger().critical("relay %s thread failed (restarting it): %s", std::string(name),
                                      std::string(e.what()));
                } catch (...) {
                    logger().critical("relay %s thread failed (restarting it): unknown exception", std::string(name));
                }
                if (stopping) return;
                pauseAfterFailure(failures);
            }
        });
    }
};

// ---------------------------------------------------------------- sockets

namespace {

// The key of peer `i`, read now if it lives in a file; errors name the config key.
std::string peerKey(const PeerConfig& p, std::size_t i) {
    if (!p.publicKey.empty()) return p.publicKey;
    try {
        return hub::zmq::readKeyFile(p.publicKeyFile);
    } catch (const Poco::Exception& e) {
        throw Poco::InvalidArgumentException("events.peers.peer[" + std::to_string(i) + "].publicKeyFile (" + p.name +
                                             "): " + e.displayText());
    }
}

// binds or connects `socket`; a failure names the configuration key and the endpoint.
void attach(::zmq::socket_t& socket, const std::string& endpoint, const std::string& key, bool bind) {
    try {
        if (bind) socket.bind(endpoint);
        else socket.connect(endpoint);
    } catch (const ::zmq::error_t& e) {
        throw Poco::IOException(key + " = " + endpoint + ": cannot " + (bind ? "bind" : "connect") + ": " + e.what());
    }
}

}  // namespace

void Relay::Impl::openSockets() {
    std::map<std::string, std::string> keyByPeer;
    // Without key files (allowed only when the relay has no socket) there is
    // nothing to encrypt; hubd always names them, so its pair is made at first start.
    if (cfg.curve.enabled && !cfg.curve.secretKeyFile.empty()) {
        bool created = false;
        try {
            hubKeys = hub::zmq::loadOrCreateKeyPair(cfg.curve.publicKeyFile, cfg.curve.secretKeyFile, &created);
        } catch (const Poco::Exception& e) {
            throw Poco::InvalidArgumentException("events.curve (the hub's key pair): " + e.displayText());
        }
        if (created)
            logger().notice("made the hub's CURVE key pair: public key %s (in %s, secret key in %s); "
                            "give the public key to every peer",
                            hubKeys.publicKey, cfg.curve.publicKeyFile, cfg.curve.secretKeyFile);
        else if (hub::zmq::isReadableByOthers(cfg.curve.secretKeyFile))
            logger().warning("the hub's CURVE secret key %s is readable by other users: chmod 600 it",
                             cfg.curve.secretKeyFile);
        std::vector<hub::zmq::ZapPeer> admitted;
        std::set<std::string> seen;
        for (std::size_t i = 0; i < cfg.peers.size(); ++i) {
            const auto& p = cfg.peers[i];
            hub::zmq::ZapPeer z{peerKey(p, i), p.name, {}};
            if (!seen.insert(z.publicKey).second)
                throw Poco::InvalidArgumentException("events.peers.peer[" + std::to_string(i) + "] (" + p.name +
                                                     ") has another peer's key: each peer needs its own");
            for (const auto& socket : p.sockets) z.domains.insert("events." + socket);
            keyByPeer[p.name] = z.publicKey;
            // A peer with no sockets is a consumer only: known by its key, admitted nowhere.
            if (!z.domains.empty()) admitted.push_back(std::move(z));
        }
        // Before any CURVE server binds: libzmq admits everyone without a handler.
        zap = std::make_unique<hub::zmq::ZapAuthenticator>(ctx, std::move(admitted), false);
        if (cfg.peers.empty() && (!cfg.inboundEndpoint.empty() || !cfg.publishEndpoint.empty()))
            logger().warning("no events.peers are listed: nobody can connect to the inbound or publish socket");
    } else if (!cfg.curve.enabled) {
        logger().critical("events.curve.enabled = false: the relay's sockets are NOT authenticated nor encrypted. "
                          "Anyone who can reach %s may send decisions the hub applies, and anyone may read events; "
                          "remove the opt-out to require listed peers (events.peers)",
                          cfg.inboundEndpoint.empty() ? std::string("the endpoints") : cfg.inboundEndpoint);
    }
    for (std::size_t i = 0; i < cfg.consumers.size(); ++i) {
        const auto& cc = cfg.consumers[i];
        std::string key = "events.consumers.consumer[" + std::to_string(i) + "]";
        auto c = std::make_unique<Consumer>();
        c->cfg = cc;
        c->socket = std::make_unique<::zmq::socket_t>(ctx, ::zmq::socket_type::dealer);
        hub::zmq::applyDefaultOptions(*c->socket);
        // Sends fail at once while the consumer is not connected, instead of
        // queueing into a pipe that may never reach it: a consumer that is down
        // costs no attempts, only a consumer that does not ack does.
        c->socket->set(::zmq::sockopt::immediate, 1);
        c->socket->set(::zmq::sockopt::sndhwm, static_cast<int>(std::max<std::size_t>(1000, cc.window * 2)));
        if (cfg.curve.enabled) {
            std::string serverKey = cc.serverPublicKey;
            if (serverKey.empty() && !cc.serverPublicKeyFile.empty()) {
                try {
                    serverKey = hub::zmq::readKeyFile(cc.serverPublicKeyFile);
                } catch (const Poco::Exception& e) {
                    throw Poco::InvalidArgumentException(key + ".serverPublicKeyFile (" + cc.name +
                                                         "): " + e.displayText());
                }
            }
            if (serverKey.empty()) serverKey = keyByPeer[cc.peer.empty() ? cc.name : cc.peer];
            hub::zmq::makeCurveClient(*c->socket, hubKeys, serverKey);
        }
        attach(*c->socket, cc.endpoint, key + ".endpoint", false);
        consumers.push_back(std::move(c));
    }
    if (!cfg.publishEndpoint.empty()) {
        pub = std::make_unique<::zmq::socket_t>(ctx, ::zmq::socket_type::pub);
        hub::zmq::applyDefaultOptions(*pub);
        pub->set(::zmq::sockopt::sndhwm, 10000);
        if (cfg.curve.enabled) hub::zmq::makeCurveServer(*pub, hubKeys, "events.publish");
        attach(*pub, cfg.publishEndpoint, "events.publish.endpoint", true);
        publishEp = hub::zmq::boundEndpoint(*pub);
    }
    {
        std::string wake = "inproc://hub.events.wake." + std::to_string(reinterpret_cast<std::uintptr_t>(this));
        wakeRecv = std::make_unique<::zmq::socket_t>(ctx, ::zmq::socket_type::pair);
        wakeRecv->set(::zmq::sockopt::linger, 0);
        wakeRecv->bind(wake);
        wakeSend = std::make_unique<::zmq::socket_t>(ctx, ::zmq::socket_type::pair);
        wakeSend->set(::zmq::sockopt::linger, 0);
        wakeSend->connect(wake);
    }
    if (!cfg.inboundEndpoint.empty()) {
        inbound = std::make_unique<::zmq::socket_t>(ctx, ::zmq::socket_type::router);
        hub::zmq::applyDefaultOptions(*inbound);
        // Oversized events up to 4x the limit get a nack; beyond that the sender
        // is hostile or broken and libzmq drops its connection.
        inbound->set(::zmq::sockopt::maxmsgsize, static_cast<int64_t>(cfg.maxEventBytes * 4 + 4096));
        if (cfg.curve.enabled) hub::zmq::makeCurveServer(*inbound, hubKeys, "events.inbound");
        attach(*inbound, cfg.inboundEndpoint, "events.inbound.endpoint", true);
        inboundEp = hub::zmq::boundEndpoint(*inbound);
    }
}

// ---------------------------------------------------------------- outbound state

void Relay::Impl::loadState(Poco::Data::Session& s, Consumer& c) {
    std::string name = c.cfg.name;
    std::vector<Int64> cursor;
    s << "SELECT seq FROM events_cursor WHERE consumer = ?", use(name), into(cursor), now;
    c.persistedCursor = cursor.empty() ? 0 : cursor.front();
    c.queuedCursor = c.persistedCursor;
    c.durableCursor = c.persistedCursor;
    c.loadedUpTo = c.persistedCursor;

    std::vector<Int64> seqs, nextAt, delivered;
    std::vector<int> attempts;
    s << "SELECT seq, attempts, next_attempt_at, CASE WHEN delivered_at IS NULL THEN 0 ELSE 1 END "
         "FROM events_delivery WHERE consumer = ? ORDER BY seq",
        use(name), into(seqs), into(attempts), into(nextAt), into(delivered), now;
    for (std::size_t i = 0; i < seqs.size(); ++i) {
        if (seqs[i] > c.persistedCursor) {
            if (delivered[i]) c.knownSettled.insert(seqs[i]);
            else c.knownAttempts[seqs[i]] = {attempts[i], nextAt[i]};
        } else if (!delivered[i]) {
            loadReplayItem(s, c, seqs[i], attempts[i]);
        }
    }
    std::vector<Int64> dead;
    Int64 from = c.persistedCursor;
    s << "SELECT seq FROM events_dead_letters WHERE consumer = ? AND seq > ?", use(name), use(from),
        into(dead), now;
    c.knownSettled.insert(dead.begin(), dead.end());
}

bool Relay::Impl::loadReplayItem(Poco::Data::Session& s, Consumer& c, std::int64_t seq, int attempts) {
    Int64 key = seq;
    std::vector<std::string> id, type, subject, payload;
    std::vector<Int64> created;
    s << "SELECT id, type, subject, payload, created_at FROM events_outbox WHERE seq = ?", use(key),
        into(id), into(type), into(subject), into(payload), into(created), now;
    if (id.empty()) {
        logger().warning("replay of seq %?d for consumer %s: the event is no longer in the outbox",
                         seq, c.cfg.name);
        return false;
    }
    Item it;
    it.seq = seq;
    it.id = id[0];
    it.type = type[0];
    it.subject = subject[0];
    it.payload = std::move(payload[0]);
    it.createdAt = created[0];
    it.attempts = attempts;
    it.replay = true;
    it.hasRow = true;
    auto [pos, inserted] = c.items.emplace(seq, std::move(it));
    if (!inserted) return false;
    c.byId[pos->second.id] = seq;
    ++c.unsettled;
    c.ready.insert(seq);
    return true;
}

void Relay::Impl::loadReplays(Poco::Data::Session& s, Consumer& c, std::int64_t at) {
    std::string name = c.cfg.name;
    std::vector<Int64> seqs;
    // replay() writes rows with attempts = 0; retry rows always have attempts >= 1.
    s << "SELECT seq FROM events_delivery WHERE consumer = ? AND delivered_at IS NULL AND attempts = 0",
        use(name), into(seqs), now;
    for (Int64 seq : seqs) {
        auto found = c.items.find(seq);
        if (found != c.items.end()) {
            Item& it = found->second;
            if (it.state == Item::State::Dead && !it.flushed) {
                // replay() found the dead letter committed before the committer's
                // report of it reached this thread: look again shortly.
                replayDeferred = true;
                continue;
            }
            if (it.state != Item::State::Dead) continue;
            it.state = Item::State::Waiting;
            it.attempts = 0;
            it.dueAt = 0;
            it.flushed = false;
            it.replay = true;
            it.hasRow = true;
            c.byId[it.id] = seq;
            ++c.unsettled;
            c.makeEligible(it, at);
        } else if (seq <= c.loadedUpTo) {
            loadReplayItem(s, c, seq, 0);
        } else {
            c.knownAttempts[seq] = {0, 0};
        }
    }
}

void Relay::Impl::loadOutbox(Poco::Data::Session& s, Consumer& c, std::int64_t at) {
    c.lastLoadFull = false;
    if (c.items.size() >= c.maxItems()) return;
    Int64 from = c.loadedUpTo;
    Int64 limit = static_cast<Int64>(std::min(cfg.batchSize, c.maxItems() - c.items.size()));
    std::vector<Int64> seq, created;
    std::vector<std::string> id, type, subject, payload;
    s << "SELECT seq, id, type, subject, payload, created_at FROM events_outbox "
         "WHERE seq > ? ORDER BY seq LIMIT ?",
        use(from), use(limit), into(seq), into(id), into(type), into(subject), into(payload),
        into(created), now;
    for (std::size_t i = 0; i < seq.size(); ++i) {
        Item it;
        it.seq = seq[i];
        it.id = std::move(id[i]);
        it.type = std::move(type[i]);
        it.subject = std::move(subject[i]);
        it.createdAt = created[i];
        auto settledBefore = c.knownSettled.find(it.seq);
        if (!c.cfg.wants(it.type) || settledBefore != c.knownSettled.end()) {
            // Nothing to send and nothing to commit: the cursor just moves past it.
            it.state = Item::State::Acked;
            it.flushed = true;
            if (settledBefore != c.knownSettled.end()) c.knownSettled.erase(settledBefore);
            c.items.emplace(it.seq, std::move(it));
        } else {
            it.payload = std::move(payload[i]);
            auto known = c.knownAttempts.find(it.seq);
            if (known != c.knownAttempts.end()) {
                it.attempts = known->second.first;
                it.dueAt = known->second.second;
                it.hasRow = true;
                c.knownAttempts.erase(known);
            }
            auto [pos, inserted] = c.items.emplace(it.seq, std::move(it));
            Item& stored = pos->second;
            c.byId[stored.id] = stored.seq;
            ++c.unsettled;
            if (!stored.subject.empty()) c.subjects[stored.subject].push_back(stored.seq);
            c.makeEligible(stored, at);
        }
        c.loadedUpTo = seq[i];
    }
    c.lastLoadFull = static_cast<Int64>(seq.size()) == limit;
}

void Relay::Impl::processTimers(Consumer& c, std::int64_t at) {
    while (!c.dueTimers.empty() && c.dueTimers.top().first <= at) {
        auto seq = c.dueTimers.top().second;
        c.dueTimers.pop();
        auto found = c.items.find(seq);
        if (found == c.items.end()) continue;
        Item& it = found->second;
        if (it.state == Item::State::Waiting && it.dueAt <= at && c.isFront(it)) c.ready.insert(seq);
    }
    while (!c.ackTimers.empty() && std::get<0>(c.ackTimers.top()) <= at) {
        auto [deadline, seq, attempt] = c.ackTimers.top();
        c.ackTimers.pop();
        auto found = c.items.find(seq);
        if (found == c.items.end()) continue;
        Item& it = found->second;
        if (it.state != Item::State::InFlight || it.attempts != attempt) continue;
        c.fail(it, "no acknowledgement within " + std::to_string(c.cfg.ackTimeoutMs) + " ms", at);
    }
}

void Relay::Impl::sendReady(Consumer& c, std::int64_t at) {
    while (c.slotsUsed < c.cfg.window && !c.ready.empty()) {
        auto seq = *c.ready.begin();
        auto found = c.items.find(seq);
        if (found == c.items.end() || found->second.state != Item::State::Waiting) {
            c.ready.erase(c.ready.begin());
            continue;
        }
        Item& it = found->second;
        bool sent = false;
        try {
            sent = hub::zmq::sendFrames(*c.socket, {it.id, it.payload}, true);
        } catch (const ::zmq::error_t& e) {
            logger().error("send to consumer %s failed: %s", c.cfg.name, std::string(e.what()));
        }
        c.sendBlocked = !sent;
        if (!sent) break;  // not connected, or high-water mark: try again next round
        c.ready.erase(c.ready.begin());
        it.state = Item::State::InFlight;
        ++it.attempts;
        c.takeSlot(it);
        c.ackTimers.emplace(at + c.cfg.ackTimeoutMs, seq, it.attempts);
    }
}

void Relay::Impl::receiveAcks(Consumer& c, std::int64_t at) {
    while (auto frames = hub::zmq::receiveFrames(*c.socket, true)) {
        if (frames->empty()) continue;
        const std::string& id = (*frames)[0];
        std::string verb = frames->size() > 1 ? (*frames)[1] : "ack";
        auto known = c.byId.find(id);
        if (known == c.byId.end()) continue;  // late or repeated ack of a settled event
        auto found = c.items.find(known->second);
        if (found == c.items.end()) continue;
        Item& it = found->second;
        if (verb == "ack") {
            if (it.state != Item::State::InFlight && it.state != Item::State::Waiting) continue;
            // Holds its slot until the delivery is committed: after a crash the
            // events that may come again are exactly those holding slots.
            c.takeSlot(it);
            it.state = Item::State::Acked;
            ++c.deliveries;
            c.settle(it, at);
        } else if (verb == "nack") {
            if (it.state != Item::State::InFlight) continue;
            std::string reason = frames->size() > 2 ? (*frames)[2] : "no reason given";
            c.fail(it, "refused by consumer: " + reason.substr(0, 500), at);
        } else {
            logger().warning("consumer %s sent an unknown reply '%s' for event %s", c.cfg.name,
                             verb.substr(0, 40), id.substr(0, 80));
        }
    }
}

// Delivery thread: turns the dirty items into marks for the committer. Runs
// every flushIntervalMs, or at once when half a window waits on it. Settled
// items keep their window slot until applyCompletions() hears they are durable.
void Relay::Impl::handOff() {
    bool any = false;
    {
        std::lock_guard lock(commitMutex);
        for (std::size_t i = 0; i < consumers.size(); ++i) {
            Consumer& c = *consumers[i];
            std::int64_t next = c.nextCursor();
            if (c.dirty.empty() && next == c.queuedCursor) continue;
            PendingMarks& p = pending[i];
            for (auto seq : c.dirty) {
                auto found = c.items.find(seq);
                if (found == c.items.end()) continue;
                Item& it = found->second;
                Mark m;
                m.attempts = it.attempts;
                switch (it.state) {
                case Item::State::Acked:
                    m.kind = Mark::Kind::Delivered;
                    m.row = it.hasRow || seq > next;
                    break;
                case Item::State::Dead:
                    m.kind = Mark::Kind::Dead;
                    m.row = it.hasRow;
                    m.id = it.id;
                    m.type = it.type;
                    m.subject = it.subject;
                    m.lastError = it.lastError;
                    // Marks commit in order, so later marks may rely on this.
                    it.hasRow = false;
                    break;
                case Item::State::Waiting:
                case Item::State::InFlight:
                    m.kind = Mark::Kind::Retry;
                    m.nextAttemptAt = it.dueAt;
                    it.hasRow = true;
                    break;
                }
                p.marks[seq] = std::move(m);
            }
            if (next != c.queuedCursor) {
                p.cursor = next;
                c.queuedCursor = next;
            }
            c.dirty.clear();
            any = true;
        }
    }
    if (any) commitCv.notify_one();
}

// Delivery thread: what the committer made durable releases its window slots.
void Relay::Impl::applyCompletions() {
    std::vector<Completion> done;
    {
        std::lock_guard lock(doneMutex);
        done.swap(completions);
    }
    for (const auto& d : done) {
        Consumer& c = *consumers[d.consumer];
        for (auto seq : d.settled) {
            auto found = c.items.find(seq);
            if (found == c.items.end()) continue;
            Item& it = found->second;
            // An event replayed since (and so unsettled again) keeps its state.
            if (!it.settled()) continue;
            it.flushed = true;
            c.releaseSlot(it);
        }
        if (d.cursor) c.persistedCursor = *d.cursor;
        c.eraseSettledFront();
    }
}

// Committer thread: writes the marks of every consumer in one transaction.
// Returns false (and keeps `work`) if the transaction failed.
bool Relay::Impl::commitMarks(Poco::Data::Session& s, std::vector<PendingMarks>& work) {
    std::int64_t stamp = nowMs();
    std::vector<std::string> doneName, retryName, deadName, dropName;
    std::vector<Int64> doneSeq, doneAttempts, retrySeq, retryAttempts, retryNext, deadSeq, deadAttempts,
        dropSeq, deadAt;
    std::vector<std::string> deadId, deadType, deadSubject, deadError;
    std::vector<std::string> cursorName;
    std::vector<Int64> cursorSeq;
    for (std::size_t i = 0; i < work.size(); ++i) {
        const std::string& name = consumers[i]->cfg.name;
        for (const auto& [seq, m] : work[i].marks) {
            switch (m.kind) {
            case Mark::Kind::Delivered:
                if (m.row) {
                    doneName.push_back(name);
                    doneSeq.push_back(seq);
                    doneAttempts.push_back(m.attempts);
                }
                break;
            case Mark::Kind::Dead:
                deadName.push_back(name);
                deadSeq.push_back(seq);
                deadId.push_back(m.id);
                deadType.push_back(m.type);
                deadSubject.push_back(m.subject);
                deadAttempts.push_back(m.attempts);
                deadError.push_back(m.lastError);
                deadAt.push_back(stamp);
                if (m.row) {
                    dropName.push_back(name);
                    dropSeq.push_back(seq);
                }
                break;
            case Mark::Kind::Retry:
                retryName.push_back(name);
                retrySeq.push_back(seq);
                retryAttempts.push_back(m.attempts);
                retryNext.push_back(m.nextAttemptAt);
                break;
            }
        }
        if (work[i].cursor) {
            cursorName.push_back(name);
            cursorSeq.push_back(*work[i].cursor);
        }
    }
    bool writes = !doneSeq.empty() || !retrySeq.empty() || !deadSeq.empty() || !cursorSeq.empty();
    if (writes) {
        try {
            // Every statement below writes, so the transaction asks for the write
            // lock with its first statement and waits (busy timeout) only here,
            // never on the delivery thread.
            s.begin();
            if (!doneSeq.empty()) {
                std::vector<Int64> at(doneSeq.size(), stamp);
                s << "INSERT INTO events_delivery(consumer, seq, attempts, next_attempt_at, delivered_at) "
                     "VALUES(?, ?, ?, 0, ?) ON CONFLICT(consumer, seq) DO UPDATE SET "
                     "attempts = excluded.attempts, delivered_at = excluded.delivered_at",
                    use(doneName), use(doneSeq), use(doneAttempts), use(at), now;
            }
            if (!retrySeq.empty()) {
                s << "INSERT INTO events_delivery(consumer, seq, attempts, next_attempt_at, delivered_at) "
                     "VALUES(?, ?, ?, ?, NULL) ON CONFLICT(consumer, seq) DO UPDATE SET "
                     "attempts = excluded.attempts, next_attempt_at = excluded.next_attempt_at",
                    use(retryName), use(retrySeq), use(retryAttempts), use(retryNext), now;
            }
            if (!deadSeq.empty()) {
                s << "INSERT INTO events_dead_letters(consumer, seq, id, type, subject, attempts, "
                     "last_error, dead_at) VALUES(?, ?, ?, ?, ?, ?, ?, ?) "
                     "ON CONFLICT(consumer, seq) DO UPDATE SET attempts = excluded.attempts, "
                     "last_error = excluded.last_error, dead_at = excluded.dead_at",
                    use(deadName), use(deadSeq), use(deadId), use(deadType), use(deadSubject),
                    use(deadAttempts), use(deadError), use(deadAt), now;
            }
            if (!dropSeq.empty()) {
                s << "DELETE FROM events_delivery WHERE consumer = ? AND seq = ?", use(dropName), use(dropSeq),
                    now;
            }
            if (!cursorSeq.empty()) {
                s << "INSERT INTO events_cursor(consumer, seq) VALUES(?, ?) "
                     "ON CONFLICT(consumer) DO UPDATE SET seq = excluded.seq",
                    use(cursorName), use(cursorSeq), now;
                s << "DELETE FROM events_delivery WHERE consumer = ? AND seq <= ? AND delivered_at IS NOT NULL",
                    use(cursorName), use(cursorSeq), now;
            }
            s.commit();
        } catch (const std::exception& e) {
            rollbackQuietly(s);
            logger().error("committing delivery state failed (will retry): %s", std::string(e.what()));
            return false;
        }
    }
    deadLetterCount += static_cast<std::int64_t>(deadSeq.size());
    std::vector<Completion> done;
    for (std::size_t i = 0; i < work.size(); ++i) {
        if (work[i].empty()) continue;
        Completion d;
        d.consumer = i;
        for (const auto& [seq, m] : work[i].marks)
            if (m.kind != Mark::Kind::Retry) d.settled.push_back(seq);
        d.cursor = work[i].cursor;
        if (d.cursor) consumers[i]->durableCursor = *d.cursor;
        done.push_back(std::move(d));
        work[i] = PendingMarks{};
    }
    if (!done.empty()) {
        {
            std::lock_guard lock(doneMutex);
            for (auto& d : done) completions.push_back(std::move(d));
        }
        try {
            // A full pipe means a wake-up is already waiting.
            wakeSend->send(::zmq::const_buffer("", 0), ::zmq::send_flags::dontwait);
        } catch (const ::zmq::error_t&) {
        }
    }
    return true;
}

void Relay::Impl::runCommitter() {
    Poco::Data::Session s = db.session();
    auto retryFast = [&s] {
        try {
            sqlite3* handle = Poco::Data::SQLite::Utility::dbHandle(s);
            // The pool hands this connection out again after us; Database::session()
            // sets its busy timeout then, which replaces this handler.
            sqlite3_busy_handler(handle, &retrySoon, nullptr);
        } catch (const Poco::Exception& e) {
            logger().warning("relay committer keeps SQLite's default busy handler: %s", e.displayText());
        }
    };
    retryFast();
    std::vector<PendingMarks> work(consumers.size());
    std::int64_t lastPrune = nowMs();
    int failures = 0;
    for (int errors = 0;;) {
        // Nothing may end this thread early: acknowledged events would keep their
        // window slots and delivery would stop. Marks stay in `work` for the next try.
        try {
            // A store that reopens its sessions after a fault needs this one back
            // (an idle committer would otherwise hold the reopen up for ever).
            if (db.renew(s)) retryFast();
            if (!commitRound(s, work, failures, lastPrune)) return;
            errors = 0;
            continue;
        } catch (const std::exception& e) {
            logger().error("relay committer error (continuing): %s", std::string(e.what()));
        } catch (...) {
            logger().error("relay committer error (continuing): unknown exception");
        }
        bool finishing = false;
        // A store that reopens its sessions after a fault needs this one back.
        try {
            if (db.renew(s)) retryFast();
        } catch (const Poco::Exception& e) {
            logger().error("relay committer has no database session: %s", e.displayText());
        }
        {
            std::lock_guard lock(commitMutex);
            finishing = commitStop;
        }
        if (finishing && ++errors >= 3) {
            logger().error("relay stopped with delivery state not committed: those events will be sent again");
            return;
        }
        pauseAfterFailure(++errors);
    }
}

// One round of the committer: waits for marks, commits them, prunes now and
// then. False when it is time to end (stop() asked and everything is committed,
// or committing keeps failing while stopping).
bool Relay::Impl::commitRound(Poco::Data::Session& s, std::vector<PendingMarks>& work, int& failures,
                              std::int64_t& lastPrune) {
    bool finishing = false;
    {
        std::unique_lock lock(commitMutex);
        commitCv.wait_for(lock, std::chrono::milliseconds(500), [&] {
            return commitStop ||
                   std::any_of(pending.begin(), pending.end(), [](const PendingMarks& p) { return !p.empty(); });
        });
        for (std::size_t i = 0; i < work.size(); ++i) work[i].absorb(pending[i]);
        finishing = commitStop;
    }
    bool hasWork = std::any_of(work.begin(), work.end(), [](const PendingMarks& p) { return !p.empty(); });
    if (hasWork) {
        if (commitMarks(s, work)) {
            failures = 0;
        } else {
            ++failures;
            if (finishing && failures >= 3) {
                logger().error("relay stopped with delivery state not committed: those events will be sent again");
                return false;
            }
            // Keep the marks (newer ones merge on top) and try again after a pause.
            std::unique_lock lock(commitMutex);
            long pause = std::min(1000L, 25L << std::min(failures, 6));
            commitCv.wait_for(lock, std::chrono::milliseconds(pause), [&] { return commitStop; });
            return true;
        }
    } else if (finishing) {
        return false;
    }
    std::int64_t t = nowMs();
    if (t - lastPrune >= 60000) {
        prune(s, t);
        lastPrune = t;
    }
    return true;
}

// After an unexpected error in a relay thread: a pause that grows with repeated
// failures (10 ms to 1 s), so a lasting fault does not spin or flood the log.
void Relay::Impl::pauseAfterFailure(int failures) {
    auto pause = std::chrono::milliseconds(std::min(1000, 10 << std::min(std::max(failures, 1) - 1, 7)));
    auto end = std::chrono::steady_clock::now() + pause;
    while (!stopping && std::chrono::steady_clock::now() < end)
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
}

void Relay::Impl::publish(Poco::Data::Session& s) {
    if (!pub) return;
    Int64 from = publishedUpTo;
    Int64 limit = static_cast<Int64>(cfg.batchSize);
    std::vector<Int64> seq;
    std::vector<std::string> type, payload;
    s << "SELECT seq, type, payload FROM events_outbox WHERE seq > ? ORDER BY seq LIMIT ?", use(from),
        use(limit), into(seq), into(type), into(payload), now;
    for (std::size_t i = 0; i < seq.size(); ++i) {
        // Best effort: a slow subscriber loses messages at the high-water mark.
        try {
            if (hub::zmq::sendFrames(*pub, {type[i], payload[i]}, true)) ++published;
        } catch (const ::zmq::error_t&) {
        }
        publishedUpTo = seq[i];
    }
}

void Relay::Impl::updateMetrics(Poco::Data::Session& s, std::int64_t at) {
    Int64 maxSeq = 0;
    s << "SELECT COALESCE(MAX(seq), 0) FROM events_outbox", into(maxSeq), now;
    RelayMetrics m;
    for (auto& c : consumers) {
        ConsumerMetrics cm;
        cm.name = c->cfg.name;
        cm.cursor = c->persistedCursor;
        cm.depth = c->unsettled + std::max<std::int64_t>(0, maxSeq - c->loadedUpTo);
        cm.inFlight = static_cast<std::int64_t>(c->slotsUsed);
        std::int64_t oldest = 0;
        for (const auto& [seq, it] : c->items)
            if (!it.settled() && (oldest == 0 || it.createdAt < oldest)) oldest = it.createdAt;
        if (oldest == 0 && maxSeq > c->loadedUpTo) {
            Int64 next = c->loadedUpTo;
            std::vector<Int64> created;
            s << "SELECT created_at FROM events_outbox WHERE seq > ? ORDER BY seq LIMIT 1", use(next),
                into(created), now;
            if (!created.empty()) oldest = created[0];
        }
        cm.oldestUndeliveredAgeSeconds = oldest ? std::max<std::int64_t>(0, at - oldest) / 1000.0 : 0.0;
        cm.deliveries = c->deliveries;
        cm.retries = c->retries;
        cm.deadLettered = c->deadLettered;
        m.outboxDepth = std::max(m.outboxDepth, cm.depth);
        m.oldestUndeliveredAgeSeconds = std::max(m.oldestUndeliveredAgeSeconds, cm.oldestUndeliveredAgeSeconds);
        m.deliveries += cm.deliveries;
        m.retries += cm.retries;
        m.consumers.push_back(std::move(cm));
    }
    if (zap) m.handshakesRefused = zap->refused();
    std::lock_guard lock(metricsMutex);
    snapshot = std::move(m);
}

void Relay::Impl::prune(Poco::Data::Session& s, std::int64_t at) {
    if (cfg.retentionHours <= 0) return;
    Int64 horizon = at - static_cast<std::int64_t>(cfg.retentionHours) * 3600 * 1000;
    Int64 settled = publishedUpTo;
    if (!pub) settled = std::numeric_limits<Int64>::max();
    for (auto& c : consumers) settled = std::min<Int64>(settled, c->durableCursor.load());
    try {
        // Dead letters and pending replays keep their event for replay.
        s << "DELETE FROM events_outbox WHERE seq <= ? AND created_at < ? "
             "AND seq NOT IN (SELECT seq FROM events_dead_letters) "
             "AND seq NOT IN (SELECT seq FROM events_delivery WHERE delivered_at IS NULL)",
            use(settled), use(horizon), now;
        s << "DELETE FROM events_inbox WHERE received_at < ?", use(horizon), now;
    } catch (const Poco::Exception& e) {
        logger().warning("pruning the outbox failed: %s", e.displayText());
    }
}

// How long the delivery loop may wait in zmq::poll: not at all while there is
// work it can do now, else until the next timer, at most pollIntervalMs (the
// outbox is polled, so that is the latency floor for new events).
long Relay::Impl::pollTimeout(std::int64_t at) const {
    if (replayRequested) return 0;
    std::int64_t timeout = cfg.pollIntervalMs;
    if (replayDeferred) timeout = std::min(timeout, replayAt - at);
    for (const auto& c : consumers) {
        if (c->lastLoadFull) return 0;
        if (!c->ready.empty() && c->slotsUsed < c->cfg.window && !c->sendBlocked) return 0;
        if (!c->dueTimers.empty()) timeout = std::min(timeout, c->dueTimers.top().first - at);
        if (!c->ackTimers.empty()) timeout = std::min(timeout, std::get<0>(c->ackTimers.top()) - at);
    }
    return static_cast<long>(std::max<std::int64_t>(0, timeout));
}

void Relay::Impl::runOutbound() {
    // Reads only: the outbox, delivery state, metrics. In WAL mode readers do not
    // wait for the writer, so neither the hub's transactions nor the committer's
    // fsyncs hold up delivery.
    Poco::Data::Session s = db.session();
    // Until the state is read nothing can be delivered: try again (the database
    // may be locked or briefly unreadable) rather than end the thread for good.
    for (int failures = 1; !stopping; ++failures) {
        try {
            for (auto& c : consumers) loadState(s, *c);
            Int64 maxSeq = 0;
            s << "SELECT COALESCE(MAX(seq), 0) FROM events_outbox", into(maxSeq), now;
            // The PUB socket is live fan-out: it starts with what is new.
            publishedUpTo = maxSeq;
            break;
        } catch (const std::exception& e) {
            logger().critical("relay cannot read its state, not delivering yet (will retry): %s",
                              std::string(e.what()));
        } catch (...) {
            logger().critical("relay cannot read its state, not delivering yet (will retry): unknown exception");
        }
        for (auto& c : consumers) {
            // loadState() may have half-filled these: start over.
            c->knownSettled.clear();
            c->knownAttempts.clear();
            c->items.clear();
            c->byId.clear();
            c->ready.clear();
            c->unsettled = 0;
        }
        pauseAfterFailure(failures);
    }
    if (stopping) return;
    std::vector<::zmq::pollitem_t> poll;
    for (auto& c : consumers) poll.push_back({c->socket->handle(), 0, ZMQ_POLLIN, 0});
    poll.push_back({wakeRecv->handle(), 0, ZMQ_POLLIN, 0});

    std::int64_t lastLoad = 0, lastFlush = 0, lastMetrics = 0;
    int failures = 0;
    while (!stopping) {
        try {
            db.renew(s);  // a store that reopens its sessions after a fault needs this one back
            std::int64_t t = nowMs();
            applyCompletions();
            if (replayRequested.exchange(false) || (replayDeferred && t >= replayAt)) {
                replayDeferred = false;
                for (auto& c : consumers) loadReplays(s, *c, t);
                if (replayDeferred) replayAt = t + 10;
            }
            bool more = std::any_of(consumers.begin(), consumers.end(),
                                    [](const auto& c) { return c->lastLoadFull; });
            if (more || t - lastLoad >= cfg.pollIntervalMs) {
                for (auto& c : consumers) loadOutbox(s, *c, t);
                publish(s);
                lastLoad = t;
            }
            for (auto& c : consumers) {
                processTimers(*c, t);
                sendReady(*c, t);
            }
            ::zmq::poll(poll, std::chrono::milliseconds(pollTimeout(t)));
            if (poll.back().revents & ZMQ_POLLIN) {
                ::zmq::message_t wake;
                while (wakeRecv->recv(wake, ::zmq::recv_flags::dontwait)) {
                }
            }
            t = nowMs();
            // Hand delivered marks to the committer every flushIntervalMs, or at
            // once when half a window waits on them: fewer commits means less
            // contention for the write lock with the hub's own transactions.
            bool pressing = false;
            for (auto& c : consumers) {
                receiveAcks(*c, t);
                pressing = pressing || c->dirty.size() * 2 >= c->cfg.window;
            }
            if (pressing || t - lastFlush >= cfg.flushIntervalMs) {
                handOff();
                lastFlush = t;
            }
            if (t - lastMetrics >= 100) {
                updateMetrics(s, t);
                lastMetrics = t;
            }
            failures = 0;
        } catch (const ::zmq::error_t& e) {
            if (e.num() != EINTR) logger().error("relay socket error: %s", std::string(e.what()));
        } catch (const Poco::Exception& e) {
            logger().error("relay error (continuing): %s", e.displayText());
            pauseAfterFailure(++failures);
        } catch (const std::exception& e) {
            logger().error("relay error (continuing): %s", std::string(e.what()));
            pauseAfterFailure(++failures);
        } catch (...) {
            logger().error("relay error (continuing): unknown exception");
            pauseAfterFailure(++failures);
        }
    }
    // The committer commits what was acknowledged before it stops (see stop()),
    // so a clean stop causes no redelivery.
    handOff();
}

// ---------------------------------------------------------------- inbound

void Relay::Impl::handleInbound(Poco::Data::Session& s, const hub::zmq::Frames& f, const std::string& userId) {
    const std::string& routing = f[0];
    auto refuse = [&](const std::string& id, const std::string& reason) {
        ++inboundRefused;
        logger().warning("inbound event %s%s refused: %s", id.empty() ? std::string("(no id)") : id.substr(0, 80),
                         userId.empty() ? std::string() : " from " + userId, reason);
        hub::zmq::sendFrames(*inbound, {routing, id, "nack", reason}, true);
    };
    InboundPeer peer{userId, cfg.curve.enabled};
    if (cfg.curve.enabled && userId.empty()) {
        // Cannot happen while the ZAP handler names every peer it admits; refuse
        // rather than apply something nobody vouched for.
        refuse("", "unauthenticated: the connection has no peer name");
        return;
    }
    std::string frameId, payload;
    if (f.size() == 2) {
        payload = f[1];
    } else if (f.size() == 3) {
        frameId = f[1];
        payload = f[2];
    } else {
        refuse("", "malformed: expected frames [event id, event JSON], got " + std::to_string(f.size() - 1));
        return;
    }
    if (frameId.size() > 256) frameId = frameId.substr(0, 256);
    if (payload.size() > cfg.maxEventBytes) {
        refuse(frameId, "oversized: " + std::to_string(payload.size()) + " bytes, more than the " +
                            std::to_string(cfg.maxEventBytes) + " allowed");
        return;
    }
    CloudEvent event;
    try {
        event = CloudEvent::fromJson(payload, cfg.maxEventBytes);
    } catch (const EventError& e) {
        bool unknownType = e.message().rfind("unknown event type", 0) == 0;
        refuse(frameId, (unknownType ? "unknown type: " : "malformed: ") + e.message());
        return;
    }
    if (!frameId.empty() && frameId != event.id) {
        refuse(frameId, "malformed: frame id does not match the event id " + event.id);
        return;
    }
    if (std::find(cfg.inboundTypes.begin(), cfg.inboundTypes.end(), event.type) == cfg.inboundTypes.end()) {
        refuse(event.id, "unknown type: " + event.type + " is not accepted inbound");
        return;
    }
    if (!onInbound) {
        refuse(event.id, "not applied: the hub has no handler for inbound events");
        return;
    }
    try {
        s.begin();
        std::string id = event.id, type = event.type, source = event.source, subject = event.subject;
        Int64 at = nowMs();
        // The write comes first so this transaction holds the write lock from the
        // start; a read-then-write transaction could not upgrade under contention.
        s << "INSERT INTO events_inbox(id, type, source, subject, received_at) VALUES(?, ?, ?, ?, ?) "
             "ON CONFLICT(id) DO NOTHING",
            use(id), use(type), use(source), use(subject), use(at), now;
        int changes = 0;
        s << "SELECT changes()", into(changes), now;
        if (changes == 0) {
            rollbackQuietly(s);
            ++inboundDuplicates;
            hub::zmq::sendFrames(*inbound, {routing, event.id, "ack", "duplicate"}, true);
            return;
        }
        onInbound(s, event, peer);
        s.commit();
    } catch (const Poco::Exception& e) {
        rollbackQuietly(s);
        if (isTransient(e)) {
            ++inboundUnavailable;
            refuse(event.id, "unavailable: the hub cannot store it now (" + e.displayText() + "); send it again later");
        } else {
            refuse(event.id, "not applied: " + e.displayText());
        }
        return;
    } catch (const std::exception& e) {
        rollbackQuietly(s);
        refuse(event.id, std::string("not applied: ") + e.what());
        return;
    } catch (...) {
        rollbackQuietly(s);
        refuse(event.id, "not applied: the handler failed with an unknown exception");
        return;
    }
    ++inboundAccepted;
    hub::zmq::sendFrames(*inbound, {routing, event.id, "ack"}, true);
}

void Relay::Impl::runInbound() {
    Poco::Data::Session s = db.session();
    std::vector<::zmq::pollitem_t> poll{{inbound->handle(), 0, ZMQ_POLLIN, 0}};
    int failures = 0;
    while (!stopping) {
        // Nothing may end this thread: the hub would stop hearing decisions.
        try {
            db.renew(s);  // a store that reopens its sessions after a fault needs this one back
            ::zmq::poll(poll, std::chrono::milliseconds(100));
            std::string userId;
            while (auto frames = hub::zmq::receiveFrames(*inbound, true, &userId)) {
                if (frames->empty()) continue;
                handleInbound(s, *frames, userId);
            }
            failures = 0;
            continue;
        } catch (const ::zmq::error_t& e) {
            if (e.num() == EINTR) continue;
            logger().error("inbound socket error (continuing): %s", std::string(e.what()));
        } catch (const std::exception& e) {
            logger().error("inbound error (continuing): %s", std::string(e.what()));
        } catch (...) {
            logger().error("inbound error (continuing): unknown exception");
        }
        pauseAfterFailure(++failures);
    }
}

// ---------------------------------------------------------------- Relay

Relay::Relay(hub::store::Database& db, RelayConfig config, InboundHandler onInbound) {
    config.validate();
    Outbox::migrate(db);
    impl_ = std::make_unique<Impl>(db, std::move(config), std::move(onInbound));
    Poco::Data::Session s = db.session();
    Int64 dead = 0;
    s << "SELECT COUNT(*) FROM events_dead_letters", into(dead), now;
    impl_->deadLetterCount = dead;
}

Relay::~Relay() { stop(); }

void Relay::start() {
    std::lock_guard lock(impl_->lifecycle);
    if (impl_->isRunning) return;
    try {
        impl_->openSockets();
    } catch (...) {
        impl_->consumers.clear();
        impl_->pub.reset();
        impl_->inbound.reset();
        impl_->wakeSend.reset();
        impl_->wakeRecv.reset();
        impl_->zap.reset();
        throw;
    }
    impl_->stopping = false;
    impl_->commitStop = false;
    impl_->pending.assign(impl_->consumers.size(), PendingMarks{});
    impl_->completions.clear();
    impl_->commitThread = impl_->startThread("committer", &Impl::runCommitter);
    impl_->outThread = impl_->startThread("delivery", &Impl::runOutbound);
    if (impl_->inbound) impl_->inThread = impl_->startThread("inbound", &Impl::runInbound);
    impl_->isRunning = true;
}

void Relay::stop() {
    std::lock_guard lock(impl_->lifecycle);
    if (!impl_->isRunning) return;
    impl_->stopping = true;
    if (impl_->outThread.joinable()) impl_->outThread.join();
    {
        // After the delivery thread's last hand-off: commit it, then end.
        std::lock_guard commitLock(impl_->commitMutex);
        impl_->commitStop = true;
    }
    impl_->commitCv.notify_one();
    if (impl_->commitThread.joinable()) impl_->commitThread.join();
    if (impl_->inThread.joinable()) impl_->inThread.join();
    try {
        impl_->applyCompletions();
        Poco::Data::Session s = impl_->db.session();
        impl_->updateMetrics(s, Outbox::nowMs());
    } catch (const Poco::Exception& e) {
        logger().warning("relay metrics after stop: %s", e.displayText());
    }
    impl_->consumers.clear();
    impl_->wakeSend.reset();
    impl_->wakeRecv.reset();
    impl_->pub.reset();
    impl_->inbound.reset();
    impl_->zap.reset();
    impl_->isRunning = false;
}

bool Relay::running() const { return impl_->isRunning; }

std::string Relay::inboundEndpoint() const { return impl_->inboundEp; }

std::string Relay::publishEndpoint() const { return impl_->publishEp; }

RelayMetrics Relay::metrics() const {
    RelayMetrics m;
    {
        std::lock_guard lock(impl_->metricsMutex);
        m = impl_->snapshot;
    }
    m.deadLetters = static_cast<std::uint64_t>(std::max<std::int64_t>(0, impl_->deadLetterCount.load()));
    m.published = impl_->published;
    m.inboundAccepted = impl_->inboundAccepted;
    m.inboundDuplicates = impl_->inboundDuplicates;
    m.inboundRefused = impl_->inboundRefused;
    m.inboundUnavailable = impl_->inboundUnavailable;
    return m;
}

std::vector<DeadLetter> Relay::deadLetters(const std::string& consumer, std::size_t limit,
                                           std::size_t offset) const {
    Poco::Data::Session s = impl_->db.session();
    std::string name = consumer;
    Int64 lim = static_cast<Int64>(limit), off = static_cast<Int64>(offset);
    std::vector<std::string> consumers, ids, types, subjects, errors, payloads;
    std::vector<Int64> seqs, deadAt;
    std::vector<int> attempts;
    s << "SELECT d.consumer, d.seq, d.id, d.type, d.subject, d.attempts, d.last_error, d.dead_at, "
         "COALESCE(o.payload, '') FROM events_dead_letters d LEFT JOIN events_outbox o ON o.seq = d.seq "
         "WHERE ? = '' OR d.consumer = ? ORDER BY d.dead_at, d.seq LIMIT ? OFFSET ?",
        use(name), use(name), use(lim), use(off), into(consumers), into(seqs), into(ids), into(types),
        into(subjects), into(attempts), into(errors), into(deadAt), into(payloads), now;
    std::vector<DeadLetter> out;
    for (std::size_t i = 0; i < seqs.size(); ++i)
        out.push_back({consumers[i], seqs[i], ids[i], types[i], subjects[i], attempts[i], errors[i],
                       deadAt[i], payloads[i]});
    return out;
}

std::size_t Relay::replay(const std::string& consumer, const std::string& eventId) {
    Poco::Data::Session s = impl_->db.session();
    std::string name = consumer, id = eventId;
    std::vector<Int64> seqs;
    s.begin();
    try {
        // A harmless write first, so the transaction takes the write lock at once.
        s << "DELETE FROM events_dead_letters WHERE 0", now;
        s << "SELECT seq FROM events_dead_letters WHERE consumer = ? AND (? = '' OR id = ?)", use(name),
            use(id), use(id), into(seqs), now;
        for (Int64 seq : seqs) {
            Int64 key = seq;
            s << "DELETE FROM events_dead_letters WHERE consumer = ? AND seq = ?", use(name), use(key), now;
            s << "INSERT INTO events_delivery(consumer, seq, attempts, next_attempt_at, delivered_at) "
                 "VALUES(?, ?, 0, 0, NULL) ON CONFLICT(consumer, seq) DO UPDATE SET attempts = 0, "
                 "next_attempt_at = 0, delivered_at = NULL",
                use(name), use(key), now;
        }
        s.commit();
    } catch (...) {
        rollbackQuietly(s);
        throw;
    }
    impl_->deadLetterCount -= static_cast<std::int64_t>(seqs.size());
    if (!seqs.empty()) impl_->replayRequested = true;
    return seqs.size();
}

}  // namespace hub::events
