#pragma once

#include "hub/events/CloudEvent.h"
#include "hub/events/Relay.h"
#include "hub/flows/ApplicationService.h"
#include "hub/flows/FlowRunner.h"

#include <Poco/Data/Session.h>

#include <mutex>
#include <string>

namespace hub::flows {

/// The hub's side of the external approval engine, which it talks to only
/// through events (docs/events/README.md):
///
/// - out: an application that enters in_review asks the engine for a decision,
///   an approval.requested event written to the outbox in the same transaction
///   as the status change (so the request exists exactly when the change does);
/// - in: the engine's approval.decided moves the application to approved or
///   rejected, inside the relay's transaction that records the inbound event
///   id, so a decision is applied exactly once.
///
/// Wiring: give outboxSink() to the ApplicationService (setEventSink) and
/// inboundHandler() to the Relay. Thread-safe (it keeps no state of its own);
/// the ApplicationService must outlive it, and it must outlive every call of
/// the sink and the handler it hands out (they refer to it).
class ApprovalEngineLink {
public:
    /// `source` is the CloudEvents source of the events it writes (events.source).
    ApprovalEngineLink(ApplicationService& applications, std::string source);

    ApprovalEngineLink(const ApprovalEngineLink&) = delete;
    ApprovalEngineLink& operator=(const ApprovalEngineLink&) = delete;

    /// The application events' sink: each event goes to the outbox as a
    /// CloudEvent from `source`, then requestIfEnteringReview() runs on it.
    ApplicationService::EventSink outboxSink() const;

    /// Appends approval.requested to the outbox on `session` if, and only if,
    /// the event is an application.status_changed (by its type) whose data's
    /// "to" member is "in_review" (read from the parsed JSON object, not found
    /// as text). Returns whether it did. Throws Poco::Exception for data that
    /// is not a JSON object on a status change (the change then rolls back).
    bool requestIfEnteringReview(Poco::Data::Session& session, const std::string& type, const std::string& subject,
                                 const std::string& dataJson) const;

    /// Tells whether a BPMN flow instance drives an application (read on
    /// `session`, inside the change's transaction): such an application's
    /// review is the flow's user tasks, so entering in_review requests nothing
    /// from the external engine. Set before serving (not synchronized).
    using FlowDriven = std::function<bool(Poco::Data::Session& session, const std::string& applicationId)>;
    void setFlowDriven(FlowDriven flowDriven) { flowDriven_ = std::move(flowDriven); }

    /// Applies a decision to the BPMN flow driving its application, inside
    /// the relay's open transaction (FlowRunner::applyDecisionWithin). Set
    /// once the flows' runner exists; unset, every decision takes the
    /// application path below.
    using FlowDecision = std::function<FlowRunner::Delivery(Poco::Data::Session& session,
                                                            const FlowRunner::Decision& decision)>;
    void setFlowDecision(FlowDecision flowDecision);

    /// The relay's handler for inbound events.
    events::InboundHandler inboundHandler() const;

    /// Applies an approval.decided ({"applicationId", "taskId"?, "decision":
    /// "approved" | "rejected", "reason"?}) inside the relay's open transaction on
    /// `session`. The actor recorded is "approval-engine:<peer name>" (the
    /// peer whose CURVE key the relay admitted), never the event's own
    /// "decidedBy". A decision that no longer applies (unknown application,
    /// already decided, moved on meanwhile) is logged and ignored, so the
    /// engine does not resend it forever. Throws Poco::InvalidArgumentException
    /// for an event of another type or a decision other than approved or
    /// rejected (the relay answers "not applied").
    ///
    /// When a BPMN flow drives the application (setFlowDecision), the decision
    /// goes to the flow instead: it completes the external task or the wait
    /// for approval.decided the request named (taskId; without one, the first
    /// open), exactly once. A decision for a task or instance already closed
    /// is logged and acknowledged (late or repeated); one that names nothing
    /// of the instance throws Poco::InvalidArgumentException, and the relay
    /// answers "not applied: ..." with the reason.
    void applyDecision(Poco::Data::Session& session, const events::CloudEvent& event,
                       const events::InboundPeer& peer) const;

private:
    ApplicationService& applications_;
    std::string source_;
    FlowDriven flowDriven_;
    // Set after the relay starts (the runner needs the plugins): read by the
    // relay's thread, so behind a mutex.
    mutable std::mutex flowDecisionMutex_;
    FlowDecision flowDecision_;
};

}  // namespace hub::flows
