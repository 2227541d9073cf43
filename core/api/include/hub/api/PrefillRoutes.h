#pragma once

#include "hub/api/Router.h"

namespace hub::catalog {
class Catalog;
}

namespace hub::api {

class OwnedFields;

/// GET /api/v1/catalog/services/{id}/prefill: the item's form with the fields
/// a system owns (catalog::DataOwners) filled from their source for the caller
/// and marked read-only; the others left to the applicant. The sources are
/// asked without holding a thread (OwnedFields::fetchAsync): the answer is
/// sent when the last has answered. 404 for an item not offered to the caller.
void addPrefillRoutes(Router& router, catalog::Catalog& catalog, const OwnedFields& owned);

}  // namespace hub::api
