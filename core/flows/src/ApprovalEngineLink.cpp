#include "hub/flows/ApprovalEngineLink.h"

#include "hub/events/Outbox.h"
#include "hub/store/TraceLog.h"

#include <Poco/Exception.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <Poco/Logger.h>
#include <Poco/UUIDGenerator.h>

#include <sstream>
#include <utility>

namespace hub::flows {

namespace {

Poco::JSON::Object::Ptr parseObject(const std::string& json, const char* what) {
    Poco::JSON::Parser parser;
    Poco::Dynamic::Var parsed = parser.parse(json);
    if (parsed.type() != typeid(Poco::JSON::Object::Ptr))
        throw Poco::InvalidArgumentException(std::string(what) + ": the data is not a JSON object");
    return parsed.extract<Poco::JSON::Object::Ptr>();
}

// A member that is a string, or "" (absent, or of another type).
std::string stringMember(const Poco::JSON::Object& object, const std::string& name) {
    if (!object.has(name) || !object.get(name).isString()) return {};
    return object.getValue<std::string>(name);
}

}  // namespace

ApprovalEngineLink::ApprovalEngineLink(ApplicationService& applications, std::string source)
    : applications_(applications), source_(std::move(source)) {}

ApplicationService::EventSink ApprovalEngineLink::outboxSink() const {
    return [this](Poco::Data::Session& session, const std::string& type, const std::string& subject,
                  const std::string& dataJson) {
        events::Outbox::append(session, events::CloudEvent::create(type, source_, subject, dataJson));
        requestIfEnteringReview(session, type, subject, dataJson);
    };
}

bool ApprovalEngineLink::requestIfEnteringReview(Poco::Data::Session& session, const std::string& type,
                                                 const std::string& subject, const std::string& dataJson) const {
    if (type != ApplicationService::statusChangedEvent) return false;
    auto change = parseObject(dataJson, ApplicationService::statusChangedEvent);
    if (stringMember(*change, "to") != toString(ApplicationStatus::InReview)) return false;
    if (flowDriven_ && flowDriven_(session, change->optValue<std::string>("id", ""))) return false;
    // The engine's task: which application, for whom, and who decides it.
    Poco::JSON::Object task;
    task.set("applicationId", change->optValue<std::string>("id", ""));
    task.set("taskId", Poco::UUIDGenerator::defaultGenerator().createRandom().toString());
    task.set("serviceId", change->optValue<std::string>("item_id", ""));
    task.set("applicant", change->optValue<std::string>("applicant", ""));
    task.set("assignee", change->optValue<std::string>("department", ""));
    std::ostringstream data;
    task.stringify(data);
    events::Outbox::append(
        session, events::CloudEvent::create(events::EventType::ApprovalRequested, source_, subject, data.str()));
    return true;
}

void ApprovalEngineLink::setFlowDecision(FlowDecision flowDecision) {
    std::lock_guard lock(flowDecisionMutex_);
    flowDecision_ = std::move(flowDecision);
}

events::InboundHandler ApprovalEngineLink::inboundHandler() const {
    return [this](Poco::Data::Session& session, const events::CloudEvent& event, const events::InboundPeer& peer) {
        applyDecision(session, event, peer);
    };
}

void ApprovalEngineLink::applyDecision(Poco::Data::Session& session, const events::CloudEvent& event,
                                       const events::InboundPeer& peer) const {
    if (event.type != events::EventType::ApprovalDecided)
        throw Poco::InvalidArgumentException("inbound " + event.type + ": only approval.decided is applied");
    auto& log = Poco::Logger::get("hub.events");
    auto data = parseObject(event.data, "approval.decided");
    std::string id = data->optValue<std::string>("applicationId", "");
    std::string decision = data->optValue<std::string>("decision", "");
    std::string reason = data->optValue<std::string>("reason", "");
    // Who decided is the peer whose CURVE key the relay admitted, never the
    // message's own "decidedBy" (any sender can write anything there).
    std::string actor = "approval-engine:" + (peer.authenticated ? peer.name : std::string("unauthenticated"));
    FlowDecision toFlow;
    {
        std::lock_guard lock(flowDecisionMutex_);
        toFlow = flowDecision_;
    }
    if (toFlow && (decision == "approved" || decision == "rejected")) {
        FlowRunner::Decision d{id, data->optValue<std::string>("taskId", ""), decision, reason, actor};
        switch (toFlow(session, d)) {
        case FlowRunner::Delivery::NotFlowDriven: break;  // the application path below
        case FlowRunner::Delivery::Applied: return;
        case FlowRunner::Delivery::Late:
            log.warning("approval.decided %s: application %s's task '%s' is closed already; the decision is ignored",
                        event.id, id, d.taskId);
            return;
        case FlowRunner::Delivery::Unknown:
            throw Poco::InvalidArgumentException("no open approval task '" + d.taskId + "' of application " + id +
                                                 " waits for a decision");
        }
    }
    ApplicationStatus to;
    if (decision == "approved")
        to = ApplicationStatus::Approved;
    else if (decision == "rejected")
        to = ApplicationStatus::Rejected;
    else
        throw Poco::InvalidArgumentException("decision must be approved or rejected, got '" + decision + "'");
    auto current = applications_.find(id);
    if (!current) {
        log.warning("approval.decided %s for unknown application '%s' ignored", event.id, id);
        return;
    }
    if (current->status == to) return;  // the same decision again
    if (!isAllowedTransition(current->status, to)) {
        log.warning("approval.decided %s: application %s is %s, decision '%s' ignored", event.id, id,
                    std::string(toString(current->status)), decision);
        return;
    }
    if (reason.empty()) reason = "decided by the approval engine";
    applications_.transitionWithin(session, id, to, actor, reason);
    store::TraceLog::record(session, {0, id, "", 0, "decision", event.type, decision, actor + " " + event.id, -1});
}

}  // namespace hub::flows
