#pragma once

#include "hub/api/Http.h"

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

    /// Every owned field of `item`'s form for `caller`, from its source. Blocks
    /// (run it on the api pool): one call per plugin operation, each within the
    /// plugin's timeout.
    Fetched fetch(const catalog::ServiceItem& item, const Principal& caller) const;

private:
    mutable std::mutex mutex_;
    std::shared_ptr<const catalog::DataOwners> owners_;
    PersonLookup person_;
    host::PluginHost* plugins_;
};

}  // namespace hub::api
