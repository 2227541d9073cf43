#pragma once

#include <Poco/AutoPtr.h>
#include <Poco/Util/AbstractConfiguration.h>

#include <shared_mutex>
#include <string>

namespace hub::app {

/// The layer of hubd's configuration that holds the --config file, so that a
/// reload (SIGHUP) can put a newly read file in its place while other threads
/// read keys: replace() swaps the whole file under a write lock, and every read
/// sees either the old file or the new one, never a mix. Poco's
/// LayeredConfiguration cannot swap a layer safely while it is read.
class ReloadableConfiguration : public Poco::Util::AbstractConfiguration {
public:
    explicit ReloadableConfiguration(Poco::AutoPtr<Poco::Util::AbstractConfiguration> file);

    /// Reads a configuration file as Poco's Application::loadConfiguration does,
    /// by its extension (.xml, .properties, .ini, .json). Throws on an unknown
    /// extension or a file that cannot be read or parsed.
    static Poco::AutoPtr<Poco::Util::AbstractConfiguration> read(const std::string& path);

    /// The file now in use.
    Poco::AutoPtr<Poco::Util::AbstractConfiguration> current() const;

    /// Puts `file` in place of the current one.
    void replace(Poco::AutoPtr<Poco::Util::AbstractConfiguration> file);

protected:
    bool getRaw(const std::string& key, std::string& value) const override;
    void setRaw(const std::string& key, const std::string& value) override;
    void enumerate(const std::string& key, Keys& range) const override;
    void removeRaw(const std::string& key) override;

private:
    mutable std::shared_mutex mutex_;
    Poco::AutoPtr<Poco::Util::AbstractConfiguration> file_;
};

}  // namespace hub::app
