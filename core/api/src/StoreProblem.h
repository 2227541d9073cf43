#pragma once

#include "hub/api/Http.h"

#include <exception>
#include <optional>

namespace hub::store {
class Database;
}

namespace hub::api {

/// The answer to a request that failed because the store could not serve it
/// (full, read-only, busy, failing: store::classifyStoreFailure()): 503 with
/// `Retry-After` and the problem type urn:campushub:problem:store-full,
/// store-read-only, store-busy or store-unavailable. Nothing else: nullopt,
/// and the caller answers as it would have. With `store`, the failure is also
/// reported to it (counted in /metrics; a store that cannot write is probed
/// until it can). Every route that touches the store maps failures here, so
/// they all answer alike.
std::optional<Response> storeProblem(const std::exception& error, store::Database* store);

}  // namespace hub::api
