#include "PrivacyParts.h"

#include "hub/common/Exceptions.h"

#include <Poco/Logger.h>

#include <chrono>

namespace hub::app {

PrivacyParts::PrivacyParts(const Poco::Util::AbstractConfiguration& config)
    : config_(config),
      answers_(api::AnswerPolicy::fromConfig(config)),
      retentionPolicy_(flows::RetentionPolicy::fromConfig(config)) {}

PrivacyParts::~PrivacyParts() { stop(); }

void PrivacyParts::start(store::Database& db, store::AuditLog& audit) {
    retention_ = std::make_unique<flows::Retention>(db, retentionPolicy_, &audit);
    if (retentionPolicy_.intervalHours == 0) return;
    const auto interval = std::chrono::hours(retentionPolicy_.intervalHours);
    schedule_ = std::thread([this, interval] {
        std::unique_lock lock(mutex_);
        while (!wake_.wait_for(lock, interval, [this] { return stopping_; })) {
            lock.unlock();
            try {
                // Several hubs on one store: the one whose turn it is (a lease) runs it.
                if (!retention_->runScheduled("hub", interval))
                    Poco::Logger::get("hub.privacy").debug("retention: another hub runs it this time");
            } catch (...) {
                // The store may be down for a while: the next interval tries again.
                Poco::Logger::get("hub.privacy").error("retention run failed: %s", currentExceptionText());
            }
            lock.lock();
        }
    });
}

void PrivacyParts::stop() {
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
    }
    wake_.notify_all();
    if (schedule_.joinable()) schedule_.join();
}

std::function<std::string(const std::string&)> PrivacyParts::pluginDepartment() const {
    return [&config = config_](const std::string& plugin) {
        // Plugin names are [a-z0-9_] (the manifest's schema); anything else names no key.
        for (char c : plugin)
            if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '-') return std::string();
        return config.getString("plugins.plugin[@name=" + plugin + "].department", "");
    };
}

}  // namespace hub::app
