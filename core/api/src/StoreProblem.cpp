#include "StoreProblem.h"

#include "hub/store/Database.h"
#include "hub/store/StoreError.h"

namespace hub::api {

std::optional<Response> storeProblem(const std::exception& error, store::Database* store) {
    auto fault = store ? store->recordFailure(error) : store::classifyStoreFailure(error);
    if (!fault) return std::nullopt;
    // The request's transaction was rolled back: say that nothing changed, so a
    // client knows it may retry (with the same Idempotency-Key for a submit).
    const char* type = "urn:campushub:problem:store-unavailable";
    const char* title = "Store unavailable";
    const char* detail = "the hub's database cannot be read or written just now; nothing was changed, retry later";
    const char* retryAfter = "10";
    switch (*fault) {
    case store::StoreFault::Full:
        type = "urn:campushub:problem:store-full";
        title = "Store full";
        detail = "the hub's database has no space left on its disk; nothing was changed, retry later";
        break;
    case store::StoreFault::ReadOnly:
        type = "urn:campushub:problem:store-read-only";
        title = "Store read-only";
        detail = "the hub's database cannot be written (read-only); nothing was changed, retry later";
        break;
    case store::StoreFault::Busy:
        type = "urn:campushub:problem:store-busy";
        title = "Store busy";
        detail = "the hub's database is busy; nothing was changed, retry shortly";
        retryAfter = "1";
        break;
    case store::StoreFault::Io: break;
    }
    Response r = problem(503, detail, title, type);
    r.headers.emplace_back("Retry-After", retryAfter);
    return r;
}

}  // namespace hub::api
