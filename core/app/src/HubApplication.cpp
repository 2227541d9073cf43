#include "HubApplication.h"
#include "HubRun.h"
#include "Settings.h"
#include "Signals.h"

#include "hub/common/LineChannel.h"
#include "hub/common/LogFormatter.h"

#include <Poco/AutoPtr.h>
#include <Poco/FormattingChannel.h>
#include <Poco/Logger.h>
#include <Poco/Util/HelpFormatter.h>
#include <Poco/Util/MapConfiguration.h>
#include <Poco/Util/Option.h>
#include <Poco/Util/OptionCallback.h>
#include <Poco/Util/OptionException.h>
#include <Poco/Util/OptionSet.h>

#include <iostream>

namespace hub::app {

HubApplication::HubApplication() { setUnixOptions(true); }
HubApplication::~HubApplication() = default;

void HubApplication::prepareSignals() { blockHubSignals(); }

void HubApplication::defineOptions(Poco::Util::OptionSet& options) {
    ServerApplication::defineOptions(options);
    options.addOption(Poco::Util::Option("config", "c", "read the hub configuration from FILE (XML)")
                          .required(false)
                          .repeatable(false)
                          .argument("FILE")
                          .callback(Poco::Util::OptionCallback<HubApplication>(this, &HubApplication::handleConfig)));
    options.addOption(Poco::Util::Option("define", "D", "set a configuration key, overriding the file: KEY=VALUE")
                          .required(false)
                          .repeatable(true)
                          .argument("KEY=VALUE")
                          .callback(Poco::Util::OptionCallback<HubApplication>(this, &HubApplication::handleDefine)));
    options.addOption(Poco::Util::Option("help", "h", "show the options and exit")
                          .required(false)
                          .repeatable(false)
                          .callback(Poco::Util::OptionCallback<HubApplication>(this, &HubApplication::handleHelp)));
    options.addOption(Poco::Util::Option("version", "", "print the version and exit")
                          .required(false)
                          .repeatable(false)
                          .callback(Poco::Util::OptionCallback<HubApplication>(this, &HubApplication::handleVersion)));
}

void HubApplication::handleConfig(const std::string&, const std::string& value) { configFile_ = value; }

void HubApplication::handleDefine(const std::string&, const std::string& value) {
    // The key ends at the first "=" outside brackets: plugins.plugin[@name=X].isolation=process.
    std::size_t eq = std::string::npos;
    int depth = 0;
    for (std::size_t i = 0; i < value.size() && eq == std::string::npos; ++i) {
        if (value[i] == '[') ++depth;
        else if (value[i] == ']' && depth > 0) --depth;
        else if (value[i] == '=' && depth == 0) eq = i;
    }
    if (eq == std::string::npos || eq == 0 || depth != 0)
        throw Poco::Util::InvalidArgumentException("--define needs KEY=VALUE, got '" + value + "'");
    defines_.emplace_back(value.substr(0, eq), value.substr(eq + 1));
}

void HubApplication::handleHelp(const std::string&, const std::string&) {
    helpRequested_ = true;
    Poco::Util::HelpFormatter help(options());
    help.setCommand(commandName());
    help.setUsage("[--config FILE] [--daemon --pidfile FILE]");
    help.setHeader("CampusHub integration hub daemon.");
    help.format(std::cout);
    stopOptionsProcessing();
}

void HubApplication::handleVersion(const std::string&, const std::string&) {
    versionRequested_ = true;
    std::cout << commandName() << " " << HUB_VERSION << std::endl;
    stopOptionsProcessing();
}

void HubApplication::initialize(Poco::Util::Application& self) {
    // SIGHUP is blocked in every thread (prepareSignals) and taken by main()'s
    // wait as a reload, so a closing terminal does not stop the hub either.
    defaults_ = new Poco::Util::MapConfiguration;
    addDefaults(*defaults_);
    config().add(defaults_, PRIO_DEFAULT + 100);  // below everything else
    if (!configFile_.empty()) {
        // Its own layer, which a reload replaces whole (ReloadableConfiguration.h).
        file_ = new ReloadableConfiguration(ReloadableConfiguration::read(configFile_));
        config().add(file_, PRIO_DEFAULT);
    }
    if (!defines_.empty()) {
        overrides_ = new Poco::Util::MapConfiguration;
        for (const auto& [key, value] : defines_) overrides_->setString(key, value);
        config().add(overrides_, PRIO_APPLICATION);  // above the file
    }

    // Console logging unless the config sets up its own channels: the hub's line
    // (text or JSON, personal data masked unless switched off), which the plugin
    // workers hubd starts take over through the environment.
    log::LogFormatter::Options logOptions;
    try {
        logOptions.style = log::LogFormatter::parseStyle(config().getString("logging.format", "text"));
        logOptions.maskPersonalData = config().getBool("logging.maskPersonalData", true);
    } catch (const Poco::Exception& e) {
        loggingError_ = e.displayText() + " (logging.format, logging.maskPersonalData)";
    }
    Poco::AutoPtr<log::LogFormatter> formatter(new log::LogFormatter(logOptions));
    formatter->exportToEnvironment();
    log::LogFormatter::registerWithPoco();  // before the logging subsystem reads logging.channels.*
    if (!config().has("logging.loggers.root.channel")) {
        Poco::AutoPtr<Poco::FormattingChannel> channel(
            new Poco::FormattingChannel(formatter, new log::LineChannel));
        Poco::Logger::root().setChannel(channel);
        Poco::Logger::root().setLevel(config().getString("logging.level", "information"));
    }
    ServerApplication::initialize(self);
}

int HubApplication::main(const std::vector<std::string>&) {
    if (helpRequested_ || versionRequested_) return EXIT_OK;
    auto& cfg = config();
    auto& log = Poco::Logger::get("hub");
    if (!loggingError_.empty()) {
        log.fatal("cannot run: %s", loggingError_);
        return EXIT_CONFIG;
    }
    if (!cfg.getBool("logging.maskPersonalData", true))
        log.warning("logging.maskPersonalData is off: ID numbers, phone numbers and e-mail addresses are logged "
                    "in full; turn it back on after the debugging session");
    try {
        runHub(cfg, defines_, {defaults_, file_, configFile_, overrides_});
        return EXIT_OK;
    } catch (const Poco::Exception& e) {
        log.fatal("cannot run: %s", e.displayText());
        return EXIT_SOFTWARE;
    } catch (const std::exception& e) {
        log.fatal("cannot run: %s", std::string(e.what()));
        return EXIT_SOFTWARE;
    }
}

}  // namespace hub::app
