#pragma once

#include <Poco/JSON/Object.h>

#include <string>

namespace hub::test {

/// The JSON object `body` holds; throws Poco::JSON::JSONException when it is
/// not JSON, Poco::BadCastException when it is not an object.
Poco::JSON::Object::Ptr parse(const std::string& body);

}  // namespace hub::test
