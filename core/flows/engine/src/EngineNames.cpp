// The names Engine.h gives its enums (for the store and for messages), and the call key.
#include "hub/flows/engine/Engine.h"

namespace hub::flows::engine {

const char* waitName(Wait wait) {
    switch (wait) {
    case Wait::Service: return "service";
    case Wait::Task: return "task";
    case Wait::Message: return "message";
    case Wait::Timer: return "timer";
    case Wait::Join: return "join";
    case Wait::Incident: return "incident";
    }
    return "?";
}

const char* statusName(InstanceStatus status) {
    switch (status) {
    case InstanceStatus::Running: return "running";
    case InstanceStatus::Completed: return "completed";
    case InstanceStatus::Terminated: return "terminated";
    case InstanceStatus::Cancelled: return "cancelled";
    }
    return "?";
}

const char* effectName(Effect::Kind kind) {
    switch (kind) {
    case Effect::Kind::CallService: return "call_service";
    case Effect::Kind::CreateTask: return "create_task";
    case Effect::Kind::CompleteTask: return "complete_task";
    case Effect::Kind::CancelTask: return "cancel_task";
    case Effect::Kind::ScheduleTimer: return "schedule_timer";
    case Effect::Kind::CancelTimer: return "cancel_timer";
    case Effect::Kind::WaitMessage: return "wait_message";
    case Effect::Kind::CancelMessageWait: return "cancel_message_wait";
    case Effect::Kind::Reminder: return "reminder";
    case Effect::Kind::RaiseIncident: return "raise_incident";
    case Effect::Kind::ResolveIncident: return "resolve_incident";
    case Effect::Kind::EndInstance: return "end_instance";
    }
    return "?";
}

std::string callKey(const std::string& instanceId, const std::string& elementId, int attempt) {
    return instanceId + ":" + elementId + ":" + std::to_string(attempt);
}

}  // namespace hub::flows::engine
