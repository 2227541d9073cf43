#pragma once

#include "hub/api/AdminRoutes.h"
#include "hub/api/Router.h"

namespace hub::flows {
class ApplicationService;
class Retention;
}  // namespace hub::flows

namespace hub::api {

/// What the privacy routes need (docs/privacy.md).
struct PrivacyServices {
    AdminServices admin;  ///< Persons (directory, staticPerson), audit, store, the api pool.
    flows::ApplicationService* applications = nullptr;
    flows::Retention* retention = nullptr;
};

/// GET /api/v1/me/export: everything the hub holds about the caller (identity
/// record, applications with forms and history, ratings, tasks, audit rows
/// about them), itself audited. PUT and DELETE
/// /admin/applications/{id}/legal-hold (hub:admin, or the admin of the
/// application's department). POST /admin/retention/run and GET
/// /admin/retention/runs (hub:admin).
void addPrivacyRoutes(Router& router, PrivacyServices services);

}  // namespace hub::api
