#pragma once
// What the host's test files share (one program; a unity build compiles them together).

#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include <string>

namespace hub::host::test {

/// The folder of the test plugins (tests/plugins, built beside the tests).
inline const std::string kTestPlugins = TEST_PLUGINS_DIR;

/// A JSON object from a plugin's answer; throws when it is not one.
inline Poco::JSON::Object::Ptr parse(const std::string& json) {
    Poco::JSON::Parser parser;
    return parser.parse(json).extract<Poco::JSON::Object::Ptr>();
}

}  // namespace hub::host::test
