// GET /admin/identity/sync/preview: what a full sync would do, written nowhere.
#include "AdminRouteSupport.h"

#include "hub/identity/Syncer.h"
#include "hub/store/StoreError.h"

namespace hub::api::detail {

void addSyncPreviewRoutes(Router& router, const AdminServices& s) {
    const AdminRouter admin(router, s.audit);
    admin.add(http::verb::get, "/admin/identity/sync/preview", [s](const RequestPtr&, AuditedReply out) {
        if (!s.syncer)
            return (void)out.send(
                problem(404, "no directory is configured", "No directory", problemType("no-directory")));
        if (s.syncer->isRunning())
            return (void)out.send(problem(409, "a sync is running", "Sync running", problemType("sync-running")));
        blocking(s, out, [s] {
            try {
                return Response::json(200, s.syncer->preview().toJson());
            } catch (const store::StoreUnavailable&) {
                throw;  // blocking() answers 503 with the store's reason
            } catch (const Poco::Exception& e) {  // the directory's (ldap::LdapException)
                return problem(502, "the directory cannot be read: " + e.displayText(), "Directory unavailable",
                               problemType("directory-unavailable"));
            }
        });
    });
}

}  // namespace hub::api::detail
