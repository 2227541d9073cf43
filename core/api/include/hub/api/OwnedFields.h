#pragma once

#include "hub/api/Http.h"

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace hub::catalog {
class DataOwners;
struct FieldOwner;
struct ServiceItem;
}  // namespace hub::catalog
namespace hub::host {
class PluginHost;
}

namespace hub::api {

/// What the identity store knows of a person that a form may need.
struct PersonFacts {
    std::string id, name, department, email, phone;
    std::vector<std::string> audience;
};
using PersonLookup = std::function<std::optional<PersonFacts>(const std::string& id)>;

/// The owned fields of application forms (catalog::DataOwners) and their
/// sources: the directory through the identity store, a department system
/// through its plugin's operation (the plugin host's normal limits: timeout,
/// bulkhead, circuit breaker, access policy). The registry may be replaced
/// while requests use it (the SIGHUP reload).
class OwnedFields {
public:
    OwnedFields(std::shared_ptr<const catalog::DataOwners> owners, PersonLookup person, host::PluginHost* plugins);

    void replace(std::shared_ptr<const catalog::DataOwners> owners);
    std::shared_ptr<const catalog::DataOwners> owners() const;

    /// One owned field's value from its source, or why there is none.
    struct Value {
        const catalog::FieldOwner* owner = nullptr;  ///< Valid while the registry it came from is held.
        std::optional<std::string> value;            ///< Absent: the source has no value or failed.
        std::string error;                           ///< Why the source failed; "" when it answered.
    };
    struct Fetched {
        std::shared_ptr<const catalog::DataOwners> owners;  ///< Keeps each Value::owner alive.
        std::map<std::string, Value> fields;                 ///< By form field id; owned fields only.
    };

    /// Called once with the fields, from whichever thread finished them.
    using Done = std::function<void(Fetched)>;
    /// Runs the function after the delay (the connection's timer: Responder::after).
    using After = std::function<void(std::chrono::milliseconds, std::function<void()>)>;

    /// Every owned field of `item`'s form for `caller`, from its source, without
    /// holding a thread: one call per plugin operation, submitted from the
    /// calling thread the way every plugin call of the API is (on an event
    /// loop, a plugin with execution=loop runs it on a fiber of that loop;
    /// otherwise the plugin's own pool runs it), each within the plugin's
    /// timeout. `done` runs when the last has answered, or when `after` fires
    /// at the longest timeout plus 200 ms (a call still out: "no answer in
    /// time"); at once when no plugin is asked. Directory values are read on
    /// the calling thread (an identity store point read, as the authenticator's).
    /// `item` and `caller` are not used after the call returns.
    void fetchAsync(const catalog::ServiceItem& item, const Principal& caller, Done done, After after) const;

    /// The same, waited for: blocks (run it on the api pool).
    Fetched fetch(const catalog::ServiceItem& item, const Principal& caller) const;

private:
    mutable std::mutex mutex_;
    std::shared_ptr<const catalog::DataOwners> owners_;
    PersonLookup person_;
    host::PluginHost* plugins_;
};

}  // namespace hub::api
