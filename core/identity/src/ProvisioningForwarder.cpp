#include "hub/identity/ProvisioningForwarder.h"

#include "hub/common/Exceptions.h"
#include "hub/events/CloudEvent.h"
#include "hub/store/Database.h"

#include <Poco/Data/Session.h>
#include <Poco/Logger.h>

#include <utility>
#include <vector>

using namespace Poco::Data::Keywords;

namespace hub::identity {

ProvisioningForwarder::ProvisioningForwarder(store::Database& db, Deliver deliver)
    : db_(db), deliver_(std::move(deliver)) {}

void ProvisioningForwarder::forward() noexcept {
    try {
        std::lock_guard lock(mutex_);
        Poco::Data::Session s = db_.session();
        Poco::Int64 cursor = 0;
        std::string name = "hub:provisioning", type(events::EventType::IdentityChanged);
        s << "SELECT seq FROM events_cursor WHERE consumer = ?", use(name), into(cursor), now;
        for (;;) {
            std::vector<Poco::Int64> seqs;
            std::vector<std::string> payloads;
            s << "SELECT seq, payload FROM events_outbox WHERE type = ? AND seq > ? ORDER BY seq LIMIT 500", use(type),
                use(cursor), into(seqs), into(payloads), now;
            if (seqs.empty()) break;
            for (const auto& payload : payloads) deliver_(type, payload);
            cursor = seqs.back();
            s << "INSERT INTO events_cursor(consumer, seq) VALUES(?, ?) ON CONFLICT(consumer) DO UPDATE SET seq = "
                 "excluded.seq",
                use(name), use(cursor), now;
        }
    } catch (...) {
        // A log channel failing in turn (a full disk) must not end the timer thread.
        try {
            Poco::Logger::get("hub.identity").error("provisioning: " + currentExceptionText());
        } catch (...) {
        }
    }
}

}  // namespace hub::identity
