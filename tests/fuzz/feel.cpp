// The FEEL subset (core/flows/engine, Feel.h): an input is one expression as a
// process designer writes it in a condition or an ioMapping. Compile either
// accepts it or throws FeelError naming a position inside the text; what is
// accepted evaluates on a fixed set of variables without throwing, to a value
// whose JSON text is valid JSON.
#include "FuzzSupport.h"

#include "hub/common/JsonCheck.h"
#include "hub/common/Utf8.h"
#include "hub/flows/engine/Feel.h"

namespace {

const hub::flows::engine::Value& variables() {
    static const auto v = hub::flows::engine::Value::fromJson(
        R"({"form":{"days":45,"amount":1200.5,"reason":"学术会议","urgent":true,"note":null,"list":[1,2]},
            "applicant":{"department":"计算机学院","id":"s1"},"decision":"approve","n":0})");
    return v;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
    hub::fuzz::quietLogging();
    variables();
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    for (bool literal : {false, true}) {
        try {
            const auto expression = hub::flows::engine::Expression::compile(text, literal);
            const std::string json = expression.evaluate(variables()).toJson();
            if (hub::isValidUtf8(text) && !hub::json::isValidJson(json))
                hub::fuzz::fail("an expression evaluated to invalid JSON", json);
        } catch (const hub::flows::engine::FeelError& e) {
            if (e.position() > text.size() + 1) hub::fuzz::fail("FeelError points past the expression", e.what());
        }
    }
    return 0;
}
