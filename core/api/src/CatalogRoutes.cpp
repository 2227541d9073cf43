#include "hub/api/CatalogRoutes.h"

#include "CatalogViewer.h"

#include "hub/catalog/Catalog.h"
#include "hub/catalog/Query.h"
#include "hub/catalog/Snapshot.h"

namespace hub::api {

void addCatalogRoutes(Router& router, catalog::Catalog& catalog) {
    // These answer from the in-memory snapshot with prebuilt JSON: cheap enough to
    // run on the I/O thread.
    router.add(http::verb::get, "/api/v1/catalog/services", [&catalog](const RequestPtr& request, Responder r) {
        auto snapshot = catalog.snapshot();
        catalog::Query query;
        try {
            query = catalog::Query::fromParameters(request->queryParams(), detail::catalogViewerOf(request->principal));
        } catch (const catalog::QueryError& e) {
            r.send(problem(400, e.what(), "Invalid query parameter", "urn:campushub:problem:invalid-query"));
            return;
        }
        Response response;
        snapshot->appendPageJson(snapshot->query(query), response.body);
        r.send(std::move(response));
    });
    router.add(http::verb::get, "/api/v1/catalog/services/{id}", [&catalog](const RequestPtr& request, Responder r) {
        auto snapshot = catalog.snapshot();
        const auto* item = snapshot->findVisible(request->param("id"), detail::catalogViewerOf(request->principal));
        if (!item) {
            r.send(problem(404, "no service item '" + request->param("id") + "' for your audience",
                           "Unknown service item", "urn:campushub:problem:unknown-service"));
            return;
        }
        r.send(Response::json(200, snapshot->itemJson(*item)));
    });
    router.add(http::verb::get, "/api/v1/catalog/categories", [&catalog](const RequestPtr& request, Responder r) {
        r.send(Response::json(200, catalog.snapshot()->categoriesJson(detail::catalogViewerOf(request->principal))));
    });
}

}  // namespace hub::api
