// The model's small functions and the deploy error's text (Model.h, Deployer.h).
#include "hub/flows/engine/Deployer.h"

namespace hub::flows::engine {

const char* kindName(ElementKind kind) {
    switch (kind) {
    case ElementKind::StartEvent: return "startEvent";
    case ElementKind::EndEvent: return "endEvent";
    case ElementKind::ServiceTask: return "serviceTask";
    case ElementKind::UserTask: return "userTask";
    case ElementKind::ReceiveTask: return "receiveTask";
    case ElementKind::MessageCatchEvent: return "intermediateCatchEvent (message)";
    case ElementKind::TimerCatchEvent: return "intermediateCatchEvent (timer)";
    case ElementKind::ExclusiveGateway: return "exclusiveGateway";
    case ElementKind::ParallelGateway: return "parallelGateway";
    case ElementKind::InclusiveGateway: return "inclusiveGateway";
    case ElementKind::TimerBoundaryEvent: return "boundaryEvent (timer)";
    case ElementKind::ErrorBoundaryEvent: return "boundaryEvent (error)";
    }
    return "?";
}

const Element* Process::find(const std::string& elementId) const {
    auto found = elementIndex.find(elementId);
    return found == elementIndex.end() ? nullptr : &elements[found->second];
}

std::string Problem::toString(const std::string& file) const {
    std::string out = file + ":" + std::to_string(line) + ": ";
    if (!elementId.empty()) {
        out += "element '" + elementId + "'";
        if (!elementName.empty()) out += " (" + elementName + ")";
        out += ": ";
    }
    return out + message;
}

namespace {
std::string summarize(const std::string& file, const std::vector<Problem>& problems) {
    std::string out = file + " is refused (" + std::to_string(problems.size()) + " problem" +
                      (problems.size() == 1 ? "" : "s") + ")";
    for (std::size_t i = 0; i < problems.size() && i < 20; ++i) out += "\n  " + problems[i].toString(file);
    return out;
}
}  // namespace

DeployError::DeployError(const std::string& file, std::vector<Problem> problems)
    : std::runtime_error(summarize(file, problems)), problems_(std::move(problems)) {}

}  // namespace hub::flows::engine
