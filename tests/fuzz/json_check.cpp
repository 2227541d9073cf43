// hub::json::isValidJson and isValidUtf8 (core/common), which judge every
// request body and every plugin answer before the hub passes them on. Oracles
// besides "no crash": text the JSON check accepts is UTF-8, and parses with
// Poco's parser (the one plugins built on the SDK read it with), numbers past
// 64 bits aside. (The one UTF-8 check is core/common's; its own oracle is
// common_test's table against every lead byte.)
#include "FuzzSupport.h"

#include "hub/common/JsonCheck.h"
#include "hub/common/Utf8.h"

#include <Poco/Exception.h>
#include <Poco/JSON/Parser.h>

extern "C" int LLVMFuzzerInitialize(int*, char***) {
    hub::fuzz::quietLogging();
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string_view text(reinterpret_cast<const char*>(data), size);
    const bool utf8 = hub::isValidUtf8(text);

    std::string error;
    const bool valid = hub::json::isValidJson(text, &error);
    if (valid && !utf8) hub::fuzz::fail("isValidJson accepted text that is not UTF-8");
    if (!valid && error.empty()) hub::fuzz::fail("isValidJson refused without saying why");
    if (valid) {
        try {
            // In an array (one level more): Poco 1.11 takes no bare scalar at the
            // top, which RFC 8259 (and the hub) accepts.
            Poco::JSON::Parser parser;
            parser.setDepth(hub::json::kMaxDepth + 1);
            parser.parse("[" + std::string(text) + "]");
        } catch (const Poco::SyntaxException& e) {
            // Poco 1.11 refuses numbers its integer and double types cannot hold
            // ("Not a valid unsigned integer: 1234567890123456789012"), which RFC
            // 8259 allows: not a disagreement about JSON.
            if (e.message().rfind("Not a valid", 0) != 0)
                hub::fuzz::fail("isValidJson accepted what Poco's parser refuses", e.displayText());
        } catch (const Poco::Exception& e) {
            hub::fuzz::fail("isValidJson accepted what Poco's parser refuses", e.displayText());
        }
    }
    return 0;
}
