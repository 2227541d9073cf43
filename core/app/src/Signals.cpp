#include "Signals.h"
#include "FlowDeployments.h"
#include "HttpServers.h"
#include "Reloader.h"
#include "ServiceManager.h"

#include "hub/api/OwnedFields.h"
#include "hub/catalog/DataOwners.h"
#include "hub/flows/FlowRunner.h"

#include <Poco/Logger.h>

#include <chrono>
#include <csignal>
#include <ctime>
#include <functional>
#include <pthread.h>
#include <string>

namespace hub::app {

namespace {

// Waits for a stop signal (SIGTERM, SIGINT, SIGQUIT; all blocked in every
// thread, see blockHubSignals), running `reload` for each SIGHUP. When systemd
// asks for a watchdog (WatchdogSec=), sends WATCHDOG=1 every half period, but
// only while `healthy` says the event loops answer: a hub whose loops hang is
// then restarted by systemd.
void waitForStop(const ServiceManager& manager, const std::function<void()>& reload,
                 const std::function<bool()>& healthy) {
    sigset_t wanted;
    sigemptyset(&wanted);
    for (int sig : {SIGTERM, SIGINT, SIGQUIT, SIGHUP}) sigaddset(&wanted, sig);
    const auto interval = manager.watchdogInterval();
    auto nextPing = std::chrono::steady_clock::now();
    for (;;) {
        int sig = 0;
        if (interval.count() > 0) {
            auto now = std::chrono::steady_clock::now();
            if (now >= nextPing) {
                if (healthy()) manager.watchdog();
                nextPing = now + interval;
            }
            auto wait = std::chrono::duration_cast<std::chrono::nanoseconds>(nextPing - now);
            timespec timeout{static_cast<time_t>(wait.count() / 1000000000),
                             static_cast<long>(wait.count() % 1000000000)};
            sig = ::sigtimedwait(&wanted, nullptr, &timeout);
            if (sig < 0) continue;  // EAGAIN: time to ping; EINTR: wait again
        } else if (::sigwait(&wanted, &sig) != 0) {
            continue;
        }
        if (sig != SIGHUP) return;
        reload();
    }
}

}  // namespace

void blockHubSignals() {
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGTERM);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGQUIT);
    sigaddset(&stop, SIGHUP);
    ::pthread_sigmask(SIG_BLOCK, &stop, nullptr);
    std::signal(SIGPIPE, SIG_IGN);
}

void addReloadHooks(Reloader& reloader, FlowDeployments& deployments, flows::FlowRunner& runner,
                    api::OwnedFields& ownedFields) {
    reloader.addHook("flows", [&deployments, &runner](const auto& next) {
        std::string summary = deployments.reload(next);
        runner.setExternalGroups(FlowDeployments::externalGroups(next));
        return summary;
    });
    reloader.addHook("privacy", [&ownedFields](const auto& next) {
        auto owners = catalog::DataOwners::fromConfig(next);  // throws: the registry in use stays
        ownedFields.replace(owners);
        return "privacy: " + std::to_string(owners->all().size()) + " owned field(s)";
    });
}

void serveUntilStopped(Reloader& reloader, HttpServers& servers, const std::function<void()>& reloaded) {
    auto& log = Poco::Logger::get("hub");
    ServiceManager serviceManager;
    const std::string serving = servers.serving();
    serviceManager.ready(serving);
    waitForStop(
        serviceManager,
        [&] {
            log.information("SIGHUP: reloading");
            serviceManager.reloading();
            auto report = reloader.reload();
            serviceManager.ready(serving + "; last reload: " + std::to_string(report.applied.size()) +
                                 " part(s) reloaded, " + std::to_string(report.problems.size()) + " kept, " +
                                 std::to_string(report.restart.size()) + " key(s) waiting for a restart");
            if (reloaded) reloaded();
        },
        [&] { return servers.heartbeat(); });
    serviceManager.stopping();
}

}  // namespace hub::app
