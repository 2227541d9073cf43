#include "hub/identity/ProvisioningForwarder.h"

#include "hub/common/Exceptions.h"
#include "hub/events/CloudEvent.h"
#include "hub/store/Database.h"
#include "hub/store/Lease.h"
#include "hub/store/LeaseKeeper.h"

#include <Poco/Data/Session.h>
#include <Poco/Logger.h>

#include <algorithm>
#include <thread>
#include <utility>
#include <vector>

using namespace Poco::Data::Keywords;

namespace hub::identity {

namespace {

Poco::Int64 nowMs() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
}

// A log channel failing in turn (a full disk) must not end the timer thread.
void logQuietly(Poco::Message::Priority priority, const std::string& text) noexcept {
    try {
        Poco::Logger& log = Poco::Logger::get("hub.identity");
        if (log.is(priority)) log.log(Poco::Message("hub.identity", text, priority));
    } catch (...) {
    }
}

struct Event {
    Poco::Int64 seq = 0;
    std::string id, subject, payload;
};

void saveCursor(Poco::Data::Session& s, const std::string& consumer, Poco::Int64 seq) {
    std::string name = consumer;
    Poco::Int64 at = seq;
    s << store::sql(s, "INSERT INTO events_cursor(consumer, seq) VALUES(?, ?) ON CONFLICT(consumer) DO UPDATE SET"
                       " seq = excluded.seq"),
        use(name), use(at), now;
}

void forgetAttempts(Poco::Data::Session& s, const std::string& consumer, Poco::Int64 seq) {
    std::string name = consumer;
    Poco::Int64 at = seq;
    s << store::sql(s, "DELETE FROM events_delivery WHERE consumer = ? AND seq = ?"), use(name), use(at), now;
}

// The event to the dead letters and its attempts forgotten, in one transaction
// with the cursor when given (> 0).
void deadLetter(Poco::Data::Session& s, const std::string& consumer, const Event& e, int attempts,
                const std::string& why, Poco::Int64 cursor) {
    std::string name = consumer, type(events::EventType::IdentityChanged), id = e.id, subject = e.subject,
                error = why.substr(0, 2000);
    Poco::Int64 seq = e.seq, at = nowMs();
    int tries = attempts;
    s.begin();
    try {
        s << store::sql(s, "INSERT INTO events_dead_letters(consumer, seq, id, type, subject, attempts, last_error,"
                           " dead_at) VALUES(?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(consumer, seq) DO UPDATE SET"
                           " attempts = excluded.attempts, last_error = excluded.last_error,"
                           " dead_at = excluded.dead_at"),
            use(name), use(seq), use(id), use(type), use(subject), use(tries), use(error), use(at), now;
        forgetAttempts(s, consumer, e.seq);
        if (cursor > 0) saveCursor(s, consumer, cursor);
        s.commit();
    } catch (...) {
        try {
            s.rollback();
        } catch (...) {
        }
        throw;
    }
}

}  // namespace

ProvisioningForwarder::ProvisioningForwarder(store::Database& db, Subscribers subscribers, Deliver deliver)
    : ProvisioningForwarder(db, std::move(subscribers), std::move(deliver), Options{}) {}

ProvisioningForwarder::ProvisioningForwarder(store::Database& db, Subscribers subscribers, Deliver deliver,
                                             Options options)
    : db_(db), subscribers_(std::move(subscribers)), deliver_(std::move(deliver)), options_(options) {}

ProvisioningForwarder::~ProvisioningForwarder() = default;  // releases the lease, if held

void ProvisioningForwarder::coordinate(std::chrono::milliseconds leaseTtl) {
    lease_ = std::make_unique<store::LeaseKeeper>(db_, "identity.provisioning", db_.nodeId(), leaseTtl);
    // Its first try is on the keeper's thread: wait for the answer, so a
    // forward() right after this one is not skipped for want of a try.
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(3);
    while (!lease_->held() && std::chrono::steady_clock::now() < until) {
        try {
            if (auto h = store::Lease::current(db_, "identity.provisioning"); h && h->node != db_.nodeId()) break;
        } catch (const std::exception&) {
            break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
}

void ProvisioningForwarder::forward() noexcept {
    try {
        std::lock_guard lock(mutex_);
        if (lease_ && !lease_->held()) return;  // another node forwards
        for (const std::string& plugin : subscribers_()) {
            if (lease_ && !lease_->held()) return;
            // One plugin's store trouble does not keep the others from their events.
            try {
                forwardTo(plugin);
            } catch (...) {
                logQuietly(Poco::Message::PRIO_ERROR, "provisioning to plugin " + plugin + ": " + currentExceptionText());
            }
        }
    } catch (...) {
        logQuietly(Poco::Message::PRIO_ERROR, "provisioning: " + currentExceptionText());
    }
}

void ProvisioningForwarder::forwardTo(const std::string& plugin) {
    Poco::Data::Session s = db_.session();
    const std::string consumer = consumerOf(plugin);
    std::string name = consumer, type(events::EventType::IdentityChanged);

    const std::string cursorSql = store::sql(s, "SELECT seq FROM events_cursor WHERE consumer = ?");
    std::vector<Poco::Int64> found;
    s << cursorSql, use(name), into(found), now;
    Poco::Int64 cursor = 0;
    if (found.empty()) {
        std::string shared = "hub:provisioning";  // the one cursor of all plugins, before this one per plugin
        s << cursorSql, use(shared), into(found), now;
        cursor = found.empty() ? 0 : found.front();
        saveCursor(s, consumer, cursor);
    } else {
        cursor = found.front();
    }

    // With several nodes: this one offers nothing more once it has lost the lease.
    auto holding = [&] { return !lease_ || lease_->held(); };
    auto offer = [&](const Event& e) -> std::string {
        try {
            std::string why = deliver_(plugin, e.payload);
            return why;
        } catch (...) {
            return "the hub failed while offering the event: " + currentExceptionText();
        }
    };
    auto load = [&](Poco::Int64 seq, Event& e) {
        std::vector<std::string> ids, subjects, payloads;
        Poco::Int64 at = seq;
        s << store::sql(s, "SELECT id, subject, payload FROM events_outbox WHERE seq = ?"), use(at), into(ids),
            into(subjects), into(payloads), now;
        if (ids.empty()) return false;
        e = Event{seq, ids[0], subjects[0], payloads[0]};
        return true;
    };

    // Dead letters replayed through the relay's admin route (rows with attempts
    // 0 at or below the cursor): one more offer each, out of order.
    std::vector<Poco::Int64> replays;
    s << store::sql(s, "SELECT seq FROM events_delivery WHERE consumer = ? AND delivered_at IS NULL AND attempts = 0"
                       " AND seq <= ?"),
        use(name), use(cursor), into(replays), now;
    for (Poco::Int64 seq : replays) {
        if (!holding()) return;
        Event e;
        if (!load(seq, e)) {
            forgetAttempts(s, consumer, seq);  // pruned from the outbox meanwhile
            continue;
        }
        std::string why = offer(e);
        if (why.empty()) {
            forgetAttempts(s, consumer, seq);
        } else {
            deadLetter(s, consumer, e, 1, why, 0);
            logQuietly(Poco::Message::PRIO_ERROR, "provisioning: plugin " + plugin + " refused the replayed event " +
                                                      e.id + " again, back to the dead letters: " + why);
        }
    }

    // In order past the cursor, until one is refused or waits for its time.
    const Poco::Int64 t = nowMs();
    Poco::Int64 saved = cursor;
    const std::string pageSql = store::sql(
        s, "SELECT seq, id, subject, payload FROM events_outbox WHERE type = ? AND seq > ? ORDER BY seq LIMIT 500");
    const std::string attemptsSql =
        store::sql(s, "SELECT attempts, next_attempt_at FROM events_delivery WHERE consumer = ? AND seq = ?");
    for (;;) {
        std::vector<Poco::Int64> seqs;
        std::vector<std::string> ids, subjects, payloads;
        s << pageSql, use(type), use(cursor), into(seqs), into(ids), into(subjects), into(payloads), now;
        if (seqs.empty()) break;
        for (std::size_t i = 0; i < seqs.size(); ++i) {
            if (!holding()) {
                if (cursor != saved) saveCursor(s, consumer, cursor);
                return;
            }
            Event e{seqs[i], ids[i], subjects[i], payloads[i]};
            std::vector<int> attemptsSoFar;
            std::vector<Poco::Int64> nextAt;
            Poco::Int64 seq = e.seq;
            s << attemptsSql, use(name), use(seq), into(attemptsSoFar), into(nextAt), now;
            int attempts = attemptsSoFar.empty() ? 0 : attemptsSoFar[0];
            if (attempts > 0 && nextAt[0] > t) {
                if (cursor != saved) saveCursor(s, consumer, cursor);
                return;  // its next attempt is later; the plugin's order holds the rest
            }
            std::string why = offer(e);
            if (why.empty()) {
                if (attempts > 0) forgetAttempts(s, consumer, e.seq);
                cursor = e.seq;
                // Several nodes: the next holder must not offer it again.
                if (lease_) saveCursor(s, consumer, saved = cursor);
                continue;
            }
            ++attempts;
            if (attempts >= options_.maxAttempts) {
                deadLetter(s, consumer, e, attempts, why, e.seq);
                cursor = saved = e.seq;
                logQuietly(Poco::Message::PRIO_ERROR, "provisioning: plugin " + plugin + " refused event " + e.id +
                                                          " " + std::to_string(attempts) +
                                                          " times; moved to the dead letters of consumer " + consumer +
                                                          ": " + why);
                continue;
            }
            auto backoff = options_.backoffInitial * (1LL << std::min(attempts - 1, 30));
            Poco::Int64 next = t + std::min<Poco::Int64>(backoff.count(), options_.backoffMax.count());
            s << store::sql(s, "INSERT INTO events_delivery(consumer, seq, attempts, next_attempt_at, delivered_at)"
                               " VALUES(?, ?, ?, ?, NULL) ON CONFLICT(consumer, seq) DO UPDATE SET"
                               " attempts = excluded.attempts, next_attempt_at = excluded.next_attempt_at"),
                use(name), use(seq), use(attempts), use(next), now;
            if (cursor != saved) saveCursor(s, consumer, cursor);
            logQuietly(Poco::Message::PRIO_WARNING, "provisioning: plugin " + plugin + " refused event " + e.id +
                                                        " (attempt " + std::to_string(attempts) + " of " +
                                                        std::to_string(options_.maxAttempts) +
                                                        "), offered again later: " + why);
            return;
        }
        // Accepted events: their cursor is stored once per batch, not per event.
        if (cursor != saved) {
            saveCursor(s, consumer, cursor);
            saved = cursor;
        }
    }
}

}  // namespace hub::identity
