#pragma once

#include <string>

namespace hub::store {
class Database;
}

namespace hub::flows {

class ApplicationService;

/// What the flows hold about one person, for their own export (GET
/// /api/v1/me/export, docs/privacy.md): {"applications":[every application
/// they are the applicant of, with its form, materials, result and
/// transitions], "ratings":[...], "tasks":[every flow task assigned to,
/// claimed or closed by them, or about their applications]}.
std::string personalDataJson(ApplicationService& applications, store::Database& db, const std::string& person);

}  // namespace hub::flows
