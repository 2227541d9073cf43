#pragma once

// Runs the BPMN flows of applications in hubd (docs/flows/bpmn.md, "In hubd"):
// starts an instance inside submit()'s transaction, then carries out the
// engine's effects after each commit. A service task calls its plugin
// operation through the plugin host, acting for the applicant, with the
// idempotency key CallContext::forFlowStep(instance, element, attempt); each
// answer is applied on the worker pool as load -> Engine::apply ->
// EngineStore::save -> status move -> commit (again on a revision conflict).
// A scheduler thread fires due timers. On start, resume() re-issues the calls
// that were out, fires overdue timers and starts the flow of applications
// left in `submitted` without an instance (a kill -9 between commit and start).

#include "hub/flows/ApplicationService.h"
#include "hub/flows/engine/Engine.h"
#include "hub/flows/engine/EngineStore.h"
#include "hub/flows/engine/FlowRepository.h"

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace hub::host {
class PluginHost;
}
namespace hub::runtime {
class WorkerPool;
}

namespace hub::flows {

class FlowRunner {
public:
    /// What the flow knows of the applicant (the identity lookup's answer).
    struct Person {
        std::string department;
        std::vector<std::string> roles;
        std::vector<std::string> audiences;
    };
    using PersonLookup = std::function<std::optional<Person>(const std::string& id)>;

    struct Options {
        engine::EngineOptions engine;
        PersonLookup person;
        std::int64_t timerPollMs = 1000;  ///< The scheduler's poll of due timers.
        std::int64_t callTimeoutMs = 30000;
    };

    FlowRunner(store::Database& db, ApplicationService& applications, engine::EngineStore& store,
               engine::FlowRepository& flows, host::PluginHost& plugins, Options options);
    ~FlowRunner();  ///< stop()

    /// ApplicationService::FlowStarter: nullopt when `flowId` is not deployed.
    std::optional<std::function<void()>> startWithin(Poco::Data::Session& session, const Application& application,
                                                     const std::string& flowId);

    /// Re-issues pending calls, fires overdue timers, starts the flows of
    /// applications stuck in submitted; then starts the timer thread.
    void resume();

    /// Stops the timer thread, then runs the answers already queued and joins
    /// the runner's pool ("flows", two threads: service answers never wait
    /// behind the API's work). Answers arriving later are dropped: their calls
    /// are pending in the store and re-issued on the next start. Call before
    /// the plugin host goes.
    void stop();

    /// Applies one input to an instance in its own transaction, retrying on a
    /// revision conflict, then carries out the effects. False when it did not
    /// apply (stale, duplicate, unknown instance).
    bool apply(const std::string& instanceId, engine::Input input);

    /// For the applications' event sink, inside the change's transaction: an
    /// application moved to cancelled by someone else than the flow (the
    /// applicant withdrawing it) cancels its instance there too, so its open
    /// tasks leave the clerks' list and its timers stop.
    void onApplicationEvent(Poco::Data::Session& session, const std::string& type, const std::string& dataJson);

    /// The application status an instance's state stands for, given the last
    /// input (the rule documented in docs/flows/applications.md); nullopt: keep.
    static std::optional<ApplicationStatus> statusFor(const engine::InstanceState& state,
                                                      const engine::Input& input, const std::string& applicant);

private:
    void carryOut(const std::string& instanceId, const engine::InstanceState& state,
                  const std::vector<engine::Effect>& effects);
    void call(const std::string& instanceId, const std::string& elementId, const std::string& key, int attempt,
              const engine::Value& callInput, const engine::Value& applicant);
    /// An event for each reminder among `effects`, in the step's transaction.
    void emitReminders(Poco::Data::Session& session, const engine::InstanceState& state,
                       const std::vector<engine::Effect>& effects, const std::string& applicationId);
    void moveApplication(Poco::Data::Session& session, const std::string& applicationId, ApplicationStatus to,
                         const std::string& reason);
    void timerLoop();
    void fireDueTimers();
    void startStuck();
    static std::int64_t nowMs();

    store::Database& db_;
    ApplicationService& applications_;
    engine::EngineStore& store_;
    engine::FlowRepository& flows_;
    host::PluginHost& plugins_;
    std::unique_ptr<runtime::WorkerPool> pool_;
    Options options_;
    engine::Engine engine_;
    std::mutex mutex_;
    std::condition_variable wake_;
    bool stopping_ = false;
    std::thread timers_;
};

}  // namespace hub::flows
