#pragma once

#include <functional>
#include <mutex>
#include <string>

namespace hub::store {
class Database;
}

namespace hub::identity {

/// Offers committed identity.changed events to the plugins that provision
/// accounts into their systems. It reads the outbox (only what committed is
/// there, so nothing of a sync that rolled back) past a cursor kept in
/// events_cursor under the consumer "hub:provisioning", so a restart resumes
/// where it was. Delivery is best effort: what `deliver` fails at is its to
/// log; the event is not offered again. Durable delivery to systems outside the
/// hub is the relay's.
///
/// The hub calls forward() after each scheduled sync. Thread-safe: one
/// forward() at a time.
class ProvisioningForwarder {
public:
    /// Hands one event to the provisioning plugins: its type and the CloudEvent
    /// JSON as stored (PluginHost::deliverEvent).
    using Deliver = std::function<void(const std::string& type, const std::string& eventJson)>;

    /// `db` holds the events module's outbox and cursors, and must outlive this.
    ProvisioningForwarder(store::Database& db, Deliver deliver);

    ProvisioningForwarder(const ProvisioningForwarder&) = delete;
    ProvisioningForwarder& operator=(const ProvisioningForwarder&) = delete;

    /// Offers every identity.changed event past the cursor, 500 at a time,
    /// moving the cursor after each batch. Never throws: a store failure is
    /// logged (logger hub.identity) and the next call resumes from the cursor.
    void forward() noexcept;

private:
    store::Database& db_;
    Deliver deliver_;
    std::mutex mutex_;
};

}  // namespace hub::identity
