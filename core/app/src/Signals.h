#pragma once

#include <functional>
// hubd's signals: SIGTERM, SIGINT and SIGQUIT stop it, SIGHUP reloads it
// (Reloader.h); all four are blocked in every thread and taken by the main
// thread's wait alone.

namespace hub::api {
class OwnedFields;
}
namespace hub::flows {
class FlowRunner;
}

namespace hub::app {

class FlowDeployments;
class HttpServers;
class Reloader;

/// Blocks SIGTERM, SIGINT, SIGQUIT and SIGHUP in the calling thread (and so in
/// every thread it starts later) and ignores SIGPIPE. See HubApplication::prepareSignals.
void blockHubSignals();

/// The parts that reload themselves on SIGHUP: the BPMN flows (with the
/// runner's external groups) and the owned fields' registry.
void addReloadHooks(Reloader& reloader, FlowDeployments& deployments, flows::FlowRunner& runner,
                    api::OwnedFields& ownedFields);

/// Tells the service manager hubd is ready, then waits for a stop signal,
/// running `reloader` for each SIGHUP (RELOADING=1, then READY=1 with the
/// outcome); while systemd asks for a watchdog, pings it as long as the
/// listeners answer. Says STOPPING=1 before it returns.
/// `reloaded`, when given, runs after each SIGHUP's reload (hubd tells the
/// other hubs on its database to reload too).
void serveUntilStopped(Reloader& reloader, HttpServers& servers, const std::function<void()>& reloaded = {});

}  // namespace hub::app
