// Flow files (core/flows/engine, Deployer.h): an input is one .bpmn file as a
// designer would deploy it. deployFlow either returns a definition or throws
// DeployError listing at least one problem; nothing else escapes, and an
// accepted definition starts an instance without throwing.
#include "FuzzSupport.h"

#include "hub/flows/engine/Deployer.h"
#include "hub/flows/engine/Engine.h"

extern "C" int LLVMFuzzerInitialize(int*, char***) {
    hub::fuzz::quietLogging();
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace hub::flows::engine;
    DefinitionPtr definition;
    try {
        definition = deployFlow(std::string(reinterpret_cast<const char*>(data), size), "fuzz.bpmn");
    } catch (const DeployError& e) {
        if (e.problems().empty()) hub::fuzz::fail("DeployError without a problem");
        return 0;
    }
    InstanceState state;
    state.id = "fuzz";
    Input start;
    start.kind = Input::Kind::Start;
    start.variables = Value(Value::Object{});
    const Engine engine;
    engine.apply(*definition, state, start);
    return 0;
}
