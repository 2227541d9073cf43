#include "hub/test/Json.h"

#include <Poco/JSON/Parser.h>

namespace hub::test {

Poco::JSON::Object::Ptr parse(const std::string& body) {
    Poco::JSON::Parser parser;
    return parser.parse(body).extract<Poco::JSON::Object::Ptr>();
}

}  // namespace hub::test
