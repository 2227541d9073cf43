#pragma once

#include "hub/api/Router.h"

#include <functional>
#include <string>

namespace hub::catalog {
class Catalog;
}
namespace hub::flows {
class ApplicationService;
}
namespace hub::host {
class PluginHost;
}  // namespace hub::host
namespace hub::runtime {
class WorkerPool;
}
namespace hub::store {
class AuditLog;
}

namespace hub::api {

class OwnedFields;
class AnswerPolicy;

/// The applications API: POST/GET /api/v1/applications, GET /{id},
/// POST /{id}/cancel, /{id}/supplement (the applicant), /{id}/transitions (a
/// clerk of the owning department). Database work runs on blockingPool, never
/// on the I/O threads. For an online item handled by a plugin operation, the
/// plugin is called and the application completed or rejected from its answer
/// (rejected too when the operation's access policy refuses the applicant).
/// Each 403 (not yours, not your department's, not offered to you) is written
/// to audit when given, and so is each read of another person's application
/// (naming the applicant). A department admin (dept:<d>:admin) reads and lists
/// its department's applications like its clerks. Each answer holds the fields
/// answers (null: AnswerPolicy's defaults) gives the caller's relation to it.
/// With `owned`, the form's owned fields are taken from their source on
/// submit, never from the applicant: a value that differs is refused (422,
/// owned-field, naming the field).
///
/// Whether a caller reviews an application for another department than its
/// own (a joint review: an open task of its flow whose candidate groups hold
/// one of the caller's roles, or assigned to the caller). Such a caller reads
/// it (GET /api/v1/applications/{id}) with the fields of the `other` relation.
using Reviewer = std::function<bool(const Principal& caller, const std::string& applicationId)>;

void addApplicationRoutes(Router& router, flows::ApplicationService& service, catalog::Catalog& catalog,
                          host::PluginHost& plugins, runtime::WorkerPool& blockingPool, store::AuditLog* audit = nullptr,
                          const OwnedFields* owned = nullptr, const AnswerPolicy* answers = nullptr,
                          Reviewer reviewer = {});

}  // namespace hub::api
