#pragma once

// A plugin publishes a message to the flows (docs/flows/bpmn.md, "External
// approvals and messages") by emitting an event of type
// edu.campus.hub.flow.message with data {"name", "correlationKey", "variables"}
// through emit_event: hubd hands it to the flows' runner instead of the outbox.
// A plugin publishes only messages named under its own name
// ("logistics.work_order_completed" from the plugin logistics).

#include "hub/flows/FlowRunner.h"
#include "hub/host/PluginServices.h"

#include <mutex>

namespace hub::app {

class PluginFlowMessages {
public:
    static constexpr const char* eventType = "edu.campus.hub.flow.message";

    /// emit_event for the plugin host: flow messages to the runner (once
    /// attached), every other event to `toOutbox`.
    host::EmitEvent wrap(host::EmitEvent toOutbox);

    /// The runner to deliver to; nullptr detaches (before the runner stops).
    void attach(flows::FlowRunner* runner);

    /// Delivers one message event of `plugin`: CH_OK when an instance took it
    /// or it is kept for a wait that begins later (its time-to-live is
    /// flows.messageTtlSeconds), CH_ERR_CONFLICT for a `messageId` seen before,
    /// CH_ERR_NOT_FOUND when none waits and nothing is kept, CH_ERR_INVALID_ARGUMENT for a message
    /// outside the plugin's names or malformed data, CH_ERR_UNAVAILABLE before
    /// the flows run.
    int deliver(const std::string& plugin, std::string_view eventJson);

private:
    std::mutex mutex_;  // held while delivering: attach(nullptr) waits for it
    flows::FlowRunner* runner_ = nullptr;
};

}  // namespace hub::app
