#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace hub::store {
class Database;
class LeaseKeeper;
}

namespace hub::identity {

/// Delivers committed identity.changed events to each plugin that provisions
/// accounts into its system, durably: it reads the outbox (only what committed
/// is there, so nothing of a sync that rolled back) past a cursor of that
/// plugin's own (events_cursor, consumer "plugin:<name>"), which moves past an
/// event only when the plugin accepted it. An event the plugin refuses (an error
/// status, no answer, a worker that is down) stops that plugin's delivery there
/// and is offered again after a backoff that doubles from backoffInitial up to
/// backoffMax (events_delivery keeps the attempts), so a plugin gets its events
/// in order; after maxAttempts it goes to the dead letters (events_dead_letters,
/// listed and replayed by the relay's admin routes under the consumer
/// "plugin:<name>") and the cursor moves on. One plugin's failures never hold up
/// another's. A plugin seen for the first time starts where the hub's former
/// shared cursor ("hub:provisioning") stood, else at the start of the outbox.
///
/// The hub calls forward() after each scheduled sync. Thread-safe: one
/// forward() at a time.
///
/// Several hubs on one PostgreSQL (coordinate()): only the node holding the
/// lease identity.provisioning forwards; forward() elsewhere returns at once.
/// The holder checks the lease before each event it offers and stores the
/// plugin's cursor after each accepted one, so a node that takes over resumes
/// right after the last event accepted (an event is offered twice only when a
/// node dies between the plugin's acceptance and that one-row write).
class ProvisioningForwarder {
public:
    /// Offers one event (the CloudEvent JSON as stored) to one plugin: "" when it
    /// accepted it, else why not (logged, and kept with a dead letter).
    using Deliver = std::function<std::string(const std::string& plugin, const std::string& eventJson)>;
    /// The plugins that take identity.changed now (PluginHost::subscribers).
    using Subscribers = std::function<std::vector<std::string>()>;

    struct Options {
        int maxAttempts = 8;
        std::chrono::milliseconds backoffInitial{1000};
        std::chrono::milliseconds backoffMax{5 * 60 * 1000};
    };

    /// `db` holds the events module's outbox and cursors, and must outlive this.
    ProvisioningForwarder(store::Database& db, Subscribers subscribers, Deliver deliver);
    ProvisioningForwarder(store::Database& db, Subscribers subscribers, Deliver deliver, Options options);

    ~ProvisioningForwarder();

    ProvisioningForwarder(const ProvisioningForwarder&) = delete;
    ProvisioningForwarder& operator=(const ProvisioningForwarder&) = delete;

    /// For each subscribing plugin: replays of its dead letters first, then every
    /// identity.changed event past its cursor, 500 at a time, until one is
    /// refused or waits for its next attempt. Never throws: a store failure is
    /// logged (logger hub.identity) and the next call resumes from the cursors.
    void forward() noexcept;

    /// Takes part in the identity.provisioning lease from now on (a LeaseKeeper
    /// of its own, node id Database::nodeId(), this time to live). Call once,
    /// before forward() runs anywhere; not called: forward() always runs (one node).
    void coordinate(std::chrono::milliseconds leaseTtl);
    /// The keeper after coordinate(), else null (tests abandon() it).
    store::LeaseKeeper* lease() { return lease_.get(); }

    /// The events_cursor / events_delivery / events_dead_letters consumer of a plugin.
    static std::string consumerOf(const std::string& plugin) { return "plugin:" + plugin; }

private:
    void forwardTo(const std::string& plugin);

    store::Database& db_;
    Subscribers subscribers_;
    Deliver deliver_;
    Options options_;
    std::mutex mutex_;
    std::unique_ptr<store::LeaseKeeper> lease_;
};

}  // namespace hub::identity
