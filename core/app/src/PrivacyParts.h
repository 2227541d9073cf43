#pragma once

#include "hub/api/AnswerPolicy.h"
#include "hub/flows/Retention.h"

#include <Poco/Util/AbstractConfiguration.h>

#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

namespace hub::store {
class AuditLog;
class Database;
}  // namespace hub::store

namespace hub::app {

/// hubd's privacy parts (docs/privacy.md): the answer policy
/// (privacy.answers) and the retention policy (privacy.retention), both
/// checked when constructed, so a bad hub.xml stops the start; the retention
/// job and its schedule; the plugins' departments.
class PrivacyParts {
public:
    /// Reads and checks the policies; throws Poco::InvalidArgumentException naming the key.
    explicit PrivacyParts(const Poco::Util::AbstractConfiguration& config);
    ~PrivacyParts();

    /// Creates the retention job on db (its tables migrated) and, unless
    /// privacy.retention.intervalHours is 0, runs it on a thread of its own
    /// every so many hours, the first run one interval after the start.
    void start(store::Database& db, store::AuditLog& audit);
    /// Stops the schedule (waits for a run in progress). Idempotent.
    void stop();

    const api::AnswerPolicy& answers() const { return answers_; }
    flows::Retention* retention() { return retention_.get(); }

    /// plugins.plugin[@name=X].department, or "" when not set.
    std::function<std::string(const std::string& plugin)> pluginDepartment() const;

private:
    const Poco::Util::AbstractConfiguration& config_;
    api::AnswerPolicy answers_;
    flows::RetentionPolicy retentionPolicy_;
    std::unique_ptr<flows::Retention> retention_;
    std::mutex mutex_;
    std::condition_variable wake_;
    bool stopping_ = false;
    std::thread schedule_;
};

}  // namespace hub::app
