#include "FlowTrace.h"

#include "hub/common/PersonalDataMask.h"
#include "hub/host/CallContext.h"
#include "hub/store/TraceLog.h"

namespace hub::flows {

void traceEffects(Poco::Data::Session& session, const std::string& applicationId, const std::string& flowId,
                  const std::vector<engine::Effect>& effects) {
    if (applicationId.empty()) return;
    using Kind = engine::Effect::Kind;
    for (const auto& effect : effects) {
        store::TraceHop hop;
        hop.applicationId = applicationId;
        hop.kind = effect.kind == Kind::CompleteTask ? "decision" : "flow";
        hop.name = std::string(engine::effectName(effect.kind)) + " " + effect.elementId;
        switch (effect.kind) {
        case Kind::CallService: hop.detail = effect.plugin + "." + effect.operation; break;
        case Kind::CompleteTask: hop.outcome = effect.message; break;
        case Kind::EndInstance: hop.outcome = effect.outcome; break;
        // An incident's message may quote a vendor's answer: masked like a log line.
        case Kind::RaiseIncident: hop.detail = log::maskedPersonalData(effect.message.substr(0, 500)); break;
        case Kind::WaitMessage: hop.detail = effect.message; break;
        default: break;
        }
        if (hop.detail.empty()) hop.detail = flowId;
        store::TraceLog::record(session, std::move(hop));
    }
}

std::string callTraceparent(const std::string& traceId) {
    if (traceId.size() != 32) return {};
    std::string parent = "00-" + traceId + "-0000000000000001-01";
    return host::isValidTraceparent(parent) ? host::childTraceparent(parent) : std::string();
}

}  // namespace hub::flows
