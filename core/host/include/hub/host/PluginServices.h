#pragma once

#include "hub/host/PluginConfig.h"

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace Poco {
class Logger;
}
namespace hub::http {
class Client;
}
namespace hub::soap {
class Client;
}
namespace hub::store {
class Database;
}
namespace hub::sql {
class Sources;
}

namespace hub::runtime {
class WorkerPool;
}

namespace hub::host {

/// Emits a plugin's event (already checked: a JSON object of at most 256 KiB,
/// valid UTF-8, "type" under "edu.campus.hub.", a "subject" string and a "data"
/// object). Returns a ch_status; CH_OK once the event is durably accepted.
using EmitEvent = std::function<int(const std::string& pluginName, std::string_view eventJson)>;

/// Hands a plugin's person records to the identity store (identity_submit, ABI
/// 1.2). ownedFields: the person fields the plugin's manifest owns (its
/// <owns><data>identity.person.FIELD</data>, without the prefix), never empty.
/// Returns a ch_status and writes the JSON summary, or the reason of a
/// failure, to answer.
using SubmitIdentity = std::function<int(const std::string& pluginName, const std::vector<std::string>& ownedFields,
                                         std::string_view recordsJson, std::string& answer)>;

/// The prefix of a manifest's <owns><data> that names a person field the plugin
/// is the source of (identity.person.employment_status).
inline constexpr std::string_view kOwnedPersonFieldPrefix = "identity.person.";

/// The person fields among a manifest's <owns> entries, without the prefix.
std::vector<std::string> ownedPersonFields(const std::vector<std::string>& owns);

/// What the host lends a plugin: its ch_host_api. The config is the instance's
/// own; everything pointed to outlives the LoadedPlugin. A service left null (or
/// empty) is NULL in the plugin's ch_host_api, except log, config_get and
/// http_request, which are always there (http_request answers
/// CH_ERR_UNAVAILABLE without a client).
struct PluginServices {
    PluginConfig config;  ///< config_get and create()'s config JSON.
    http::Client* http = nullptr;
    Poco::Logger* logger = nullptr;
    /// emit_event; the host validates the event before calling it.
    EmitEvent emitEvent;
    /// kv_get / kv_put / kv_delete: table host_plugin_kv, rows keyed by the
    /// plugin's name, so no plugin sees another's. Migrated ("host") on load.
    store::Database* database = nullptr;
    /// soap_call.
    soap::Client* soap = nullptr;
    /// sql_query: the hub's data sources (hub.xml sql/sources); a plugin reaches
    /// only those whose plugins list names it.
    sql::Sources* sql = nullptr;
    /// Called on an event loop's fiber (execution "loop"), kv_* and emit_event run
    /// their SQLite work here while the fiber is parked, so a statement waiting
    /// for the database lock does not hold up the loop. Null: they run in place.
    runtime::WorkerPool* offload = nullptr;
    /// identity_submit, with the person fields this plugin owns (from its
    /// manifest); NULL in the plugin's table when either is empty.
    SubmitIdentity submitIdentity;
    std::vector<std::string> ownedPersonFields;
};

/// Largest records document a plugin may hand to identity_submit at once.
inline constexpr std::size_t kMaxIdentitySubmitBytes = 4 * 1024 * 1024;

/// Limits of the key-value state a plugin keeps through kv_put.
inline constexpr std::size_t kMaxKvKeyBytes = 256;
inline constexpr std::size_t kMaxKvValueBytes = 1024 * 1024;
/// Largest event a plugin may emit.
inline constexpr std::size_t kMaxEventBytes = 256 * 1024;

/// Checks an event a plugin emits; returns "" when it is acceptable, else what
/// is wrong with it.
std::string checkEvent(std::string_view eventJson);

/// Creates the host's tables (host_plugin_kv) in db; idempotent. LoadedPlugin
/// calls it when given a database.
void migrateStore(store::Database& db);

}  // namespace hub::host
