// The prefilled form of a service item (docs/privacy.md, "One datum, one source").
#include "hub/api/PrefillRoutes.h"
#include "CatalogViewer.h"

#include "hub/api/OwnedFields.h"
#include "hub/catalog/Catalog.h"
#include "hub/catalog/DataOwners.h"
#include "hub/catalog/Snapshot.h"
#include "hub/common/Exceptions.h"

#include <Poco/Logger.h>

namespace hub::api {

namespace {

std::string prefillJson(const catalog::ServiceItem& item, const OwnedFields::Fetched& fetched) {
    std::string form = "{", fields = "[", unavailable = "[";
    for (const auto& field : item.fields) {
        if (fields.size() > 1) fields += ',';
        fields += "{\"id\":";
        appendString(fields, field.id);
        auto owned = fetched.fields.find(field.id);
        if (owned == fetched.fields.end()) {
            fields += ",\"read_only\":false}";
            continue;
        }
        const auto& v = owned->second;
        fields += ",\"read_only\":true,\"owner\":";
        appendString(fields, v.owner->source);
        fields += ",\"value\":";
        if (v.value) {
            appendString(fields, *v.value);
            if (form.size() > 1) form += ',';
            appendString(form, field.id);
            form += ':';
            appendString(form, *v.value);
        } else {
            fields += "null";
        }
        fields += '}';
        if (!v.error.empty()) {
            if (unavailable.size() > 1) unavailable += ',';
            unavailable += "{\"field\":";
            appendString(unavailable, field.id);
            unavailable += ",\"owner\":";
            appendString(unavailable, v.owner->source);
            unavailable += ",\"detail\":";
            appendString(unavailable, v.error);
            unavailable += '}';
        }
    }
    std::string body = "{\"item_id\":";
    appendString(body, item.id);
    return body + ",\"form\":" + form + "},\"fields\":" + fields + "],\"unavailable\":" + unavailable + "]}";
}

}  // namespace

void addPrefillRoutes(Router& router, catalog::Catalog& catalog, const OwnedFields& owned) {
    router.add(http::verb::get, "/api/v1/catalog/services/{id}/prefill",
               [&catalog, &owned](const RequestPtr& request, Responder out) {
                   auto snapshot = catalog.snapshot();
                   const auto* item = snapshot->findVisible(request->param("id"), detail::catalogViewerOf(request->principal));
                   if (!item) {
                       out.send(problem(404, "no service item '" + request->param("id") + "' for your audience",
                                        "Unknown service item", "urn:campushub:problem:unknown-service"));
                       return;
                   }
                   // The sources are asked from this I/O thread, as every plugin call of the
                   // API is (a fiber of this loop, or the plugin's pool): no thread waits.
                   try {
                       owned.fetchAsync(
                           *item, request->principal,
                           // The snapshot keeps the item alive until the answer.
                           [item, snapshot, out](OwnedFields::Fetched fetched) {
                               try {
                                   out.send(Response::json(200, prefillJson(*item, fetched)));
                               } catch (...) {
                                   Poco::Logger::get("hub.api").error("prefill: %s", currentExceptionText());
                                   out.send(problem(500, "internal error", "Internal error",
                                                    "urn:campushub:problem:internal"));
                               }
                           },
                           [out](std::chrono::milliseconds delay, std::function<void()> expire) {
                               out.after(delay, std::move(expire));
                           });
                   } catch (...) {
                       Poco::Logger::get("hub.api").error("prefill: %s", currentExceptionText());
                       out.send(problem(500, "internal error", "Internal error", "urn:campushub:problem:internal"));
                   }
               });
}

}  // namespace hub::api
