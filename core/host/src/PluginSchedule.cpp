#include "hub/host/PluginSchedule.h"

#include "hub/host/PluginHost.h"
#include "hub/store/AuditLog.h"
#include "hub/store/Database.h"
#include "hub/store/LeaseKeeper.h"

#include <campushub/plugin.h>

#include <Poco/JSON/Parser.h>
#include <Poco/Logger.h>
#include <Poco/Util/AbstractConfiguration.h>

#include <atomic>
#include <stdexcept>

namespace hub::host {

namespace {

Poco::Logger& scheduleLogger() { return Poco::Logger::get("hub.schedule"); }

const char* outcomeOf(int status) {
    switch (status) {
    case CH_OK: return "ok";
    case CH_ERR_INVALID_ARGUMENT: return "invalid_argument";
    case CH_ERR_NOT_FOUND: return "not_found";
    case CH_ERR_UNKNOWN_OPERATION: return "unknown_operation";
    case CH_ERR_PERMISSION: return "permission";
    case CH_ERR_CONFLICT: return "conflict";
    case CH_ERR_UNAVAILABLE: return "unavailable";
    case CH_ERR_TIMEOUT: return "timeout";
    default: return "plugin_error";
    }
}

const char* refusalOf(PluginHost::Submit s) {
    switch (s) {
    case PluginHost::Submit::UnknownSystem: return "unknown_system";
    case PluginHost::Submit::UnknownOperation: return "unknown_operation";
    case PluginHost::Submit::Overloaded: return "overloaded";
    case PluginHost::Submit::CircuitOpen: return "circuit_open";
    case PluginHost::Submit::Forbidden: return "forbidden";
    case PluginHost::Submit::InvalidContext: return "invalid_context";
    case PluginHost::Submit::Accepted: break;
    }
    return "accepted";
}

}  // namespace

// Shared with the calls' completions, which may outlive a stopped schedule's loop.
struct PluginSchedule::State {
    std::mutex mutex;
    std::condition_variable changed;
    bool stopping = false;
    std::size_t inFlight = 0;
    std::vector<bool> running;
    std::vector<std::size_t> runs;
    std::vector<std::chrono::steady_clock::time_point> due;
};

std::vector<PluginSchedule::Entry> PluginSchedule::fromConfig(const Poco::Util::AbstractConfiguration& cfg) {
    std::vector<Entry> entries;
    for (int i = 0;; ++i) {
        const std::string base = "schedule[" + std::to_string(i) + "]";
        if (!cfg.has(base)) break;
        const std::string where = "schedules." + base;
        Entry e;
        e.plugin = cfg.getString(base + "[@plugin]", "");
        e.operation = cfg.getString(base + "[@operation]", "");
        if (e.plugin.empty() || e.operation.empty())
            throw std::invalid_argument(where + ": needs the attributes plugin and operation");
        long long every = 0, timeout = 0;
        try {
            every = cfg.getInt64(base + "[@everySeconds]", 60);
            timeout = cfg.getInt64(base + "[@timeoutMs]", 0);
        } catch (const Poco::Exception& ex) {
            throw std::invalid_argument(where + ": everySeconds and timeoutMs must be integers: " + ex.displayText());
        }
        if (every < 1 || every > 86400) throw std::invalid_argument(where + "[@everySeconds] must be 1 to 86400");
        if (timeout < 0 || timeout > 3600000) throw std::invalid_argument(where + "[@timeoutMs] must be 0 to 3600000");
        e.every = std::chrono::seconds(every);
        e.timeout = std::chrono::milliseconds(timeout);
        e.input = cfg.getString(base + "[@input]", "{}");
        try {
            Poco::JSON::Parser parser;
            if (parser.parse(e.input).type() != typeid(Poco::JSON::Object::Ptr)) throw std::invalid_argument("");
        } catch (const std::exception&) {
            throw std::invalid_argument(where + "[@input] must be a JSON object");
        }
        entries.push_back(std::move(e));
    }
    return entries;
}

PluginSchedule::PluginSchedule(PluginHost& host, store::AuditLog* audit, std::vector<Entry> entries,
                               store::Database* leases, std::chrono::milliseconds leaseTtl)
    : host_(host),
      audit_(audit),
      entries_(std::move(entries)),
      state_(std::make_shared<State>()),
      leases_(leases),
      leaseTtl_(leaseTtl) {
    state_->running.assign(entries_.size(), false);
    state_->runs.assign(entries_.size(), 0);
    state_->due.assign(entries_.size(), std::chrono::steady_clock::time_point::max());
}

PluginSchedule::~PluginSchedule() { stop(); }

std::string PluginSchedule::leaseName(std::size_t i) const {
    const Entry& e = entries_.at(i);
    std::string name = "plugin." + e.plugin + "." + e.operation;
    for (std::size_t j = 0; j < i; ++j)
        if (entries_[j].plugin == e.plugin && entries_[j].operation == e.operation) return name + "#" + std::to_string(i);
    return name;
}

void PluginSchedule::start() {
    if (thread_.joinable() || entries_.empty()) return;
    if (leases_ && keepers_.empty())
        for (std::size_t i = 0; i < entries_.size(); ++i) {
            const std::string name = leaseName(i);
            keepers_.push_back(std::make_unique<store::LeaseKeeper>(
                *leases_, name, leases_->nodeId(), leaseTtl_,
                store::LeaseKeeper::Callbacks{
                    [name](std::int64_t token) {
                        scheduleLogger().information("schedule %s: this node runs it (lease token %Ld)", name,
                                                     static_cast<Poco::Int64>(token));
                    },
                    [name] { scheduleLogger().information("schedule %s: another node runs it now", name); }}));
        }
    auto now = std::chrono::steady_clock::now();
    {
        std::lock_guard lock(state_->mutex);
        for (std::size_t i = 0; i < entries_.size(); ++i) state_->due[i] = now + entries_[i].every;
    }
    thread_ = std::thread([this] { loop(); });
}

void PluginSchedule::stop() {
    {
        std::lock_guard lock(state_->mutex);
        state_->stopping = true;
    }
    state_->changed.notify_all();
    if (thread_.joinable()) thread_.join();
    {
        std::unique_lock lock(state_->mutex);
        state_->changed.wait(lock, [&] { return state_->inFlight == 0; });
    }
    // Released once no run is in flight: the next node may start at once.
    keepers_.clear();
}

std::size_t PluginSchedule::runs(std::size_t i) const {
    std::lock_guard lock(state_->mutex);
    return i < state_->runs.size() ? state_->runs[i] : 0;
}

void PluginSchedule::loop() {
    std::unique_lock lock(state_->mutex);
    while (!state_->stopping) {
        auto next = std::chrono::steady_clock::time_point::max();
        for (auto d : state_->due) next = std::min(next, d);
        state_->changed.wait_until(lock, next, [&] { return state_->stopping; });
        if (state_->stopping) break;
        lock.unlock();
        runDue(std::chrono::steady_clock::now());
        lock.lock();
    }
}

void PluginSchedule::runDue(std::chrono::steady_clock::time_point now) {
    for (std::size_t i = 0; i < entries_.size(); ++i) {
        const Entry& e = entries_[i];
        {
            std::lock_guard lock(state_->mutex);
            if (state_->due[i] > now) continue;
            state_->due[i] = now + e.every;
            // Another node holds this schedule's lease: it runs it.
            if (i < keepers_.size() && !keepers_[i]->held()) continue;
            if (state_->running[i]) {
                scheduleLogger().warning("schedule %s.%s: the previous run is still going; skipping this one", e.plugin,
                                 e.operation);
                continue;
            }
            state_->running[i] = true;
            ++state_->inFlight;
        }
        Caller caller;
        caller.subject = kSubject;
        caller.roles = {kRole};
        auto timeout = e.timeout.count() > 0 ? e.timeout : host_.limits(e.plugin).timeout;
        auto started = std::chrono::steady_clock::now();
        auto finish = [state = state_, audit = audit_, i, e, started](int status, const std::string& outcome,
                                                                      const std::string& detail) {
            if (audit) {
                store::AuditRecord r;
                r.subject = kSubject;
                r.system = e.plugin;
                r.operation = e.operation;
                r.outcome = outcome;
                r.durationUs = std::chrono::duration_cast<std::chrono::microseconds>(
                                   std::chrono::steady_clock::now() - started)
                                   .count();
                audit->record(std::move(r));
            }
            if (status == CH_OK)
                scheduleLogger().information("schedule %s.%s: %s", e.plugin, e.operation, detail.substr(0, 1000));
            else
                scheduleLogger().warning("schedule %s.%s: %s: %s", e.plugin, e.operation, outcome, detail.substr(0, 1000));
            std::lock_guard lock(state->mutex);
            state->running[i] = false;
            ++state->runs[i];
            --state->inFlight;
            state->changed.notify_all();
        };
        std::string refusal;
        PluginHost::Submit s = PluginHost::Submit::UnknownSystem;
        try {
            s = host_.submit(
                e.plugin, e.operation, e.input, caller, Clock::now() + timeout,
                [finish](CallResult r) { finish(r.status, outcomeOf(r.status), r.body); }, &refusal);
        } catch (const std::exception& ex) {
            refusal = ex.what();
        }
        if (s != PluginHost::Submit::Accepted) finish(-1, refusalOf(s), refusal);
    }
}

}  // namespace hub::host
