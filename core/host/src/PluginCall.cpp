// The call path: PluginHost::submit decides whether a call may go to a plugin
// (its operation, its access policy, its circuit breaker) and hands a
// PluginCall to the plugin's pool or, for execution "loop", to a fiber of the
// calling event loop through the plugin's LoopGate.
#include "PluginCall.h"

#include "LoopGate.h"
#include "PluginRegistry.h"

#include "hub/common/Exceptions.h"
#include "hub/runtime/WorkerPool.h"
#include "hub/runtime/Loop.h"

#include <campushub/plugin.h>

#include <Poco/Logger.h>

namespace hub::host {

namespace {

// For catch-alls: a log channel that fails (a full disk under a file channel)
// must not take the handling of the first failure down with it.
void logCallQuietly(const std::string& message) noexcept {
    try {
        Poco::Logger::get("hub.host").error(message);
    } catch (...) {
    }
}

}  // namespace

void PluginCall::operator()() noexcept {
    bool answered = false;
    try {
        if (Clock::now() >= deadline) {
            breaker->cancel(probe);
            answered = true;
            done({CH_ERR_TIMEOUT, "the call waited in the queue past its deadline"});
            return;
        }
        CallResult result = plugin->invoke(operation, input, caller, context, deadline);
        breaker->record(result, deadline, probe);
        answered = true;
        done(std::move(result));
    } catch (...) {
        std::string what = currentExceptionText();
        logCallQuietly("plugin " + breaker->plugin() + ": call of " + operation + " failed in the hub: " + what);
        if (answered) return;  // the completion itself threw; it had its answer
        try {
            breaker->cancel(probe);
            done({CH_ERR_INTERNAL, "the hub failed while running the call: " + what});
        } catch (...) {
            logCallQuietly("plugin " + breaker->plugin() + ": call of " + operation +
                       " not answered: " + currentExceptionText());
        }
    }
}

PluginHost::Submit PluginHost::submit(std::string_view system, std::string_view operation, std::string input,
                                      Caller caller, Clock::time_point deadline, Completion done,
                                      std::string* refusal) {
    return submit(system, operation, std::move(input), std::move(caller), CallContext{}, deadline, std::move(done),
                  refusal);
}

PluginHost::Submit PluginHost::submit(std::string_view system, std::string_view operation, std::string input,
                                      Caller caller, CallContext context, Clock::time_point deadline,
                                      Completion done, std::string* refusal) {
    // The context reaches vendor code and HTTP headers: only well-formed values pass.
    if ((!context.idempotencyKey.empty() && !isValidIdempotencyKey(context.idempotencyKey)) ||
        (!context.traceparent.empty() && !isValidTraceparent(context.traceparent)))
        return Submit::InvalidContext;
    auto s = registry_->find(system);
    if (!s) return Submit::UnknownSystem;
    // The call holds this instance (and so its library) alive until it completes,
    // even if a reload switches later calls to a newer one.
    std::shared_ptr<PluginInstance> plugin = std::atomic_load(&s->plugin);
    const Manifest::Operation* op = plugin->manifest().findOperation(operation);
    if (!op) return Submit::UnknownOperation;
    // Authorisation is the hub's, before any of the plugin's code runs. A signed
    // callback reaches webhooks only (others do not exist for it); nothing else does.
    std::string why;
    if (!caller.webhook)
        why = op->access.refusal(caller.actingFor.empty() ? caller.subject : caller.actingFor, caller.roles,
                                 caller.audiences, input);
    else if (!op->access.webhook)
        return Submit::UnknownOperation;
    else if (op->access.disabled)
        why = "is disabled by the operator (hub.xml)";
    if (!why.empty()) {
        if (refusal) *refusal = "operation " + op->name + " of plugin " + plugin->manifest().name + " " + why;
        return Submit::Forbidden;
    }
    bool probe = false;
    if (!s->breaker->admit(probe)) return Submit::CircuitOpen;
    PluginCall call{std::move(plugin),  s->breaker,         probe,    std::string(operation), std::move(input),
                    std::move(caller), std::move(context), deadline, std::move(done)};
    bool accepted;
    runtime::Loop* loop = s->gate ? runtime::Loop::current() : nullptr;
    if (loop)
        accepted = LoopGate::spawn(*loop, s->gate, std::string(system), std::move(call));
    else
        accepted = s->pool->trySubmit(std::move(call));
    if (!accepted) s->breaker->cancel(probe);
    return accepted ? Submit::Accepted : Submit::Overloaded;
}

}  // namespace hub::host
