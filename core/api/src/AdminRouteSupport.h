#pragma once

// What the admin route groups share: the audited answer, registering a
// hub:admin route, running a handler's work on the api pool. Private to
// hub::api; the groups are registered, in this order, by addAdminRoutes().

#include "hub/api/AdminRoutes.h"
#include "hub/api/Http.h"
#include "hub/api/RouteAccess.h"
#include "hub/api/RouteAudit.h"
#include "hub/api/Router.h"
#include "hub/common/Exceptions.h"
#include "hub/runtime/WorkerPool.h"

#include "ProblemTypes.h"
#include "StoreProblem.h"

#include <Poco/Logger.h>

#include <chrono>
#include <exception>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace hub::store {
struct AuditEntry;
}

namespace hub::api::detail {

/// The answer channel of the admin routes: each answer, whatever it is, goes to
/// the audit trail with the actor and its outcome.
class AuditedReply {
public:
    AuditedReply(RequestPtr request, Responder out, store::AuditLog* audit)
        : request_(std::move(request)),
          out_(std::move(out)),
          audit_(audit),
          started_(std::chrono::steady_clock::now()) {}

    bool send(Response response) const {
        unsigned status = response.status;
        if (!out_.send(std::move(response))) return false;
        auto elapsed = std::chrono::steady_clock::now() - started_;
        auditRouteCall(audit_, *request_, status,
                       std::chrono::duration_cast<std::chrono::microseconds>(elapsed).count(), person_);
        return true;
    }

    /// The same channel, its audit row naming whose personal data the answer holds.
    AuditedReply about(std::string person) const {
        AuditedReply copy = *this;
        copy.person_ = std::move(person);
        return copy;
    }

private:
    RequestPtr request_;
    Responder out_;
    store::AuditLog* audit_;
    std::chrono::steady_clock::time_point started_;
    std::string person_;
};

using AdminHandler = std::function<void(const RequestPtr&, AuditedReply)>;

/// hub:admin, checked once by the server before the handler runs; refusals audited.
RouteAccess adminOnly(store::AuditLog* audit);

/// The department a request's resource belongs to, for RouteAccess::department.
using DepartmentOf = std::function<std::string(const Request&)>;

/// Every department admin passes the route's check; the handler narrows to
/// their departments (AdminScope).
inline std::string anyDepartment(const Request&) { return "*"; }

/// Registers routes for hub:admin only (adminOnly), whose every answer is
/// audited; with department, also for that department's admin.
class AdminRouter {
public:
    AdminRouter(Router& router, store::AuditLog* audit) : router_(router), audit_(audit) {}
    void add(http::verb method, std::string pattern, AdminHandler handler, DepartmentOf department = {}) const;

private:
    Router& router_;
    store::AuditLog* audit_;
};

/// Runs fn on the api pool (database work never runs on an I/O thread). Store
/// faults become 503 with their reason and are counted; anything else is a 500.
template <class Reply>
void blocking(const AdminServices& s, Reply out, std::function<Response()> fn) {
    auto task = [out, store = s.store, fn = std::move(fn)] {
        try {
            out.send(fn());
        } catch (const std::exception& e) {
            if (auto unavailable = storeProblem(e, store)) return (void)out.send(std::move(*unavailable));
            const std::string text = currentExceptionText();
            Poco::Logger::get("hub.api").error("admin: %s", text);
            out.send(problem(500, text, "Internal error", problemType("internal")));
        } catch (...) {
            Poco::Logger::get("hub.api").error("admin: a handler threw something that is not a std::exception");
            out.send(problem(500, "internal error", "Internal error", problemType("internal")));
        }
    };
    if (!s.blocking) {
        task();
        return;
    }
    if (!s.blocking->trySubmit(task))
        out.send(problem(503, "the hub is busy; retry shortly", "Overloaded", problemType("overloaded")));
}

/// GET /api/v1/identities/me, /api/v1/identities/{id}, /api/v1/identities (IdentityRoutes.cpp).
void addIdentityRoutes(Router& router, const AdminServices& s);
/// GET and POST /admin/identity/sync (IdentityRoutes.cpp).
void addIdentitySyncRoutes(Router& router, const AdminServices& s);
/// GET /admin/events/dead-letters, POST /admin/events/dead-letters/replay (EventAdminRoutes.cpp).
void addDeadLetterRoutes(Router& router, const AdminServices& s);
/// GET /admin/plugins, POST /admin/plugins/{name}/reload, DELETE
/// /admin/plugins/{name}, POST /admin/plugins/rescan (PluginAdminRoutes.cpp).
void addPluginAdminRoutes(Router& router, const AdminServices& s);
/// POST /admin/catalog/reload; PUT and DELETE /admin/catalog/departments/{department},
/// POST /admin/catalog/departments/{department}/reload (AdminRoutes.cpp).
void addCatalogAdminRoutes(Router& router, const AdminServices& s);
/// GET /admin/identity/sync/preview (SyncPreviewRoutes.cpp).
void addSyncPreviewRoutes(Router& router, const AdminServices& s);
/// GET /admin/audit (AuditAdminRoutes.cpp).
void addAuditRoutes(Router& router, const AdminServices& s);
/// GET /admin/applications/{id}/trace (TraceRoutes.cpp).
void addTraceRoutes(Router& router, const AdminServices& s);
/// GET /admin/cluster: this node, its backend, the lease holders (ClusterRoutes.cpp).
void addClusterRoutes(Router& router, const AdminServices& s);
/// One audit row as the API writes it (AuditAdminRoutes.cpp).
void appendAuditEntry(std::string& body, const store::AuditEntry& entry);

/// r (a problem+json) with the member "errors": the texts, each with its place.
Response withErrors(Response r, const std::vector<std::string>& errors);

/// The 403 for a department admin reaching past their departments (sent
/// through an AuditedReply, it is audited like every admin answer).
Response outsideScope(const std::string& what);

}  // namespace hub::api::detail
