#pragma once

// The text forms in which ApplicationService stores an application's parts
// (timestamps, the materials list, the form as canonical JSON), shared by the
// service's parts: submit, changes and queries. Private to hub::flows.

#include <Poco/Data/Statement.h>
#include <Poco/JSON/Object.h>
#include <Poco/Timestamp.h>

#include <cstddef>
#include <string>
#include <vector>

namespace hub::flows::detail {

/// ISO 8601 UTC with milliseconds: "2026-09-30T02:00:00.000Z".
std::string formatTimestamp(const Poco::Timestamp& ts);

/// The materials column: a JSON array of strings.
std::string joinMaterials(const std::vector<std::string>& materials);
std::vector<std::string> parseMaterials(const std::string& text);

/// Sorted, without duplicates: the stored (and hashed) order.
std::vector<std::string> normalizedMaterials(std::vector<std::string> materials);

/// The form as a JSON object, or null when the text is not one.
Poco::JSON::Object::Ptr parseObject(const std::string& text);

/// Poco's objects keep keys sorted, so this is a canonical text: two bodies
/// differing only in spacing or key order hash alike.
std::string canonical(Poco::JSON::Object::Ptr object);

/// Runs `statement`; the number of rows it changed.
inline std::size_t execute(Poco::Data::Statement& statement) {
    return statement.execute();
}

}  // namespace hub::flows::detail
