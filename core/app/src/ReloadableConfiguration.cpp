#include "ReloadableConfiguration.h"

#include <Poco/Exception.h>
#include <Poco/Path.h>
#include <Poco/String.h>
#include <Poco/Util/IniFileConfiguration.h>
#include <Poco/Util/JSONConfiguration.h>
#include <Poco/Util/PropertyFileConfiguration.h>
#include <Poco/Util/XMLConfiguration.h>

#include <mutex>
#include <utility>

namespace hub::app {

ReloadableConfiguration::ReloadableConfiguration(Poco::AutoPtr<Poco::Util::AbstractConfiguration> file)
    : file_(std::move(file)) {}

Poco::AutoPtr<Poco::Util::AbstractConfiguration> ReloadableConfiguration::read(const std::string& path) {
    const std::string ext = Poco::toLower(Poco::Path(path).getExtension());
    if (ext == "xml") return new Poco::Util::XMLConfiguration(path);
    if (ext == "properties") return new Poco::Util::PropertyFileConfiguration(path);
    if (ext == "ini") return new Poco::Util::IniFileConfiguration(path);
    if (ext == "json") return new Poco::Util::JSONConfiguration(path);
    throw Poco::InvalidArgumentException("the configuration file must end in .xml, .properties, .ini or .json", path);
}

Poco::AutoPtr<Poco::Util::AbstractConfiguration> ReloadableConfiguration::current() const {
    std::shared_lock lock(mutex_);
    return file_;
}

void ReloadableConfiguration::replace(Poco::AutoPtr<Poco::Util::AbstractConfiguration> file) {
    std::unique_lock lock(mutex_);
    std::swap(file_, file);
    // The old file goes when the lock is released (with `file`).
}

bool ReloadableConfiguration::getRaw(const std::string& key, std::string& value) const {
    std::shared_lock lock(mutex_);
    // The file's own getRaw is protected: its public raw read (no ${} expansion;
    // the layered configuration above expands).
    if (!file_->has(key)) return false;
    value = file_->getRawString(key);
    return true;
}

void ReloadableConfiguration::setRaw(const std::string& key, const std::string& value) {
    std::shared_lock lock(mutex_);
    file_->setString(key, value);
}

void ReloadableConfiguration::enumerate(const std::string& key, Keys& range) const {
    std::shared_lock lock(mutex_);
    file_->keys(key, range);
}

void ReloadableConfiguration::removeRaw(const std::string& key) {
    std::shared_lock lock(mutex_);
    file_->remove(key);
}

}  // namespace hub::app
