#pragma once

#include "hub/api/Router.h"

namespace hub::catalog {
class Catalog;
}

namespace hub::api {

/// GET /api/v1/catalog/services (filters, search, paging), /services/{id} and
/// /categories. A user sees only the items for their audiences; the role
/// hub:admin sees everything.
void addCatalogRoutes(Router& router, catalog::Catalog& catalog);

}  // namespace hub::api
