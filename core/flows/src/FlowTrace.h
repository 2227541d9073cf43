#pragma once
// The flow runner's hops in an application's trace (store::TraceLog): each
// engine effect as a "flow" hop (a completed task as a "decision"), each
// service task's plugin call with the vendor's answer status as a "plugin" hop.

#include "hub/flows/engine/Engine.h"

#include <cstdint>
#include <string>
#include <vector>

namespace Poco::Data {
class Session;
}

namespace hub::flows {

/// The effects of one input, in the caller's transaction.
void traceEffects(Poco::Data::Session& session, const std::string& applicationId, const std::string& flowId,
                  const std::vector<engine::Effect>& effects);

/// A plugin call's traceparent: a new span of the application's trace, or ""
/// when it has none.
std::string callTraceparent(const std::string& traceId);

}  // namespace hub::flows
